# cmake -DCXX=... -DSOURCE=file.cpp -DINCLUDES=a|b -P check_compile_fails.cmake
# Passes when compiling SOURCE fails with every message listed in its "// EXPECT: <regex>"
# lines (GCC writes Codec<T, void>, clang Codec<T>); fails when it compiles, or fails for
# another reason.
string(REPLACE "|" ";" include_list "${INCLUDES}")
set(include_flags)
foreach(dir IN LISTS include_list)
  list(APPEND include_flags "-I${dir}")
endforeach()
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only ${include_flags} ${SOURCE}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(status EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it uses an unsupported type and must not")
endif()
file(STRINGS ${SOURCE} expectations REGEX "^// EXPECT: ")
if(NOT expectations)
  message(FATAL_ERROR "${SOURCE} has no '// EXPECT: <regex>' lines")
endif()
foreach(line IN LISTS expectations)
  string(REGEX REPLACE "^// EXPECT: " "" pattern "${line}")
  if(NOT "${out}${err}" MATCHES "${pattern}")
    message(FATAL_ERROR "compiler output of ${SOURCE} lacks /${pattern}/:\n${out}${err}")
  endif()
endforeach()
message(STATUS "${SOURCE} failed to compile as expected")
