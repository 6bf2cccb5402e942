#!/usr/bin/python3
"""A real multi-node SLURM on this one machine, for the tests (tests/slurm/scenarios.py).

    with Cluster(nodes=2) as c:          # munged, slurmctld, slurmd srmn1 and srmn2
        job = c.sbatch(["-N2", "-n4", script, ini], env)
        c.wait_gone(job)

Each "node" is a network + UTS (hostname) namespace with one slurmd in it; slurmctld has a
namespace of its own; a bridge in the root namespace joins them (10.252.7.0/24). The file
system is shared, as a parallel file system is. One munged in the root namespace serves them
all through a socket in the cluster's private base directory. Everything the cluster makes
is named with the prefix `srmn` (namespaces srmn-ctl, srmn-n1..; links srmn-*; nodes
srmn1..; base dir /tmp/srmn-*), and:

  * it is stopped in the documented order on every way out (also an exception, ^C or
    SIGTERM): cancel the jobs and wait for an empty queue, then TERM each slurmd, slurmctld,
    munged by the PID it was started with (KILL only one that outlives a bounded wait), then
    every process left in its namespaces, then the links, namespaces and bridge;
  * what an earlier, interrupted run left (its state file /run/srmn-cluster.json, namespaces
    and links named srmn-*, processes inside them or whose SLURM_CONF points into a
    /tmp/srmn-* dir) is cleaned up first. A lock (/run/srmn-cluster.lock) keeps two
    clusters from running at once.

`unavailable()` says why no cluster can be had here (not root, a SLURM or munge program
missing, namespaces refused), or None. Facts this is built on:
../shared/reference/slurm-multinode.md (namespaces via nsenter, not `ip netns exec`;
per-node TmpFS; timings).
"""
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

PREFIX = "srmn"
SUBNET = "10.252.7"
BRIDGE = f"{PREFIX}-br"
STATE_FILE = f"/run/{PREFIX}-cluster.json"
LOCK_FILE = f"/run/{PREFIX}-cluster.lock"
PROGRAMS = ("slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "scancel", "sinfo",
            "munged", "mungekey", "ip", "nsenter", "unshare")


def log(msg):
    print(f"[cluster {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(argv, check=True, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def unavailable():
    """Why no cluster can be started here, or None."""
    if os.geteuid() != 0:
        return "not root (namespaces, bridges and the SLURM daemons need root)"
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        return f"missing programs: {' '.join(missing)} (scripts/setup installs them)"
    probe = f"{PREFIX}-probe"
    sh(["ip", "netns", "del", probe], check=False)
    p = sh(["ip", "netns", "add", probe], check=False)
    if p.returncode != 0:
        return f"cannot create a network namespace: {p.stderr.strip()}"
    sh(["ip", "netns", "del", probe], check=False)
    p = sh(["unshare", "-u", "true"], check=False)
    if p.returncode != 0:
        return f"cannot create a UTS namespace: {p.stderr.strip()}"
    return None


# ---- processes, by PID -----------------------------------------------------------------
def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().split(")")[-1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def stop_pid(pid, what, wait=10.0, sig=signal.SIGTERM):
    """Signals one process, waits for it to go; KILL when it outlives `wait`."""
    if not alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not alive(pid):
            break
        time.sleep(0.05)
        reap(pid)
    if alive(pid):
        log(f"{what} (pid {pid}) outlived {wait:.0f}s after {sig.name}: KILL")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for _ in range(100):
            reap(pid)
            if not alive(pid):
                break
            time.sleep(0.05)
    reap(pid)


def reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def netns_pids(ns):
    p = sh(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in p.stdout.split() if x.isdigit()]


def pids_with_conf_under(prefix):
    """PIDs whose environment has SLURM_CONF under `prefix` (a stale cluster's clients)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        for item in env:
            if item.startswith(b"SLURM_CONF=" + prefix.encode()):
                found.append(int(entry))
                break
    return found


# ---- stale leftovers ---------------------------------------------------------------------
def our_namespaces():
    p = sh(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in p.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(PREFIX + "-")]


def our_links():
    p = sh(["ip", "-o", "link", "show"], check=False)
    links = []
    for line in p.stdout.splitlines():
        m = re.match(r"\d+: ([^:@ ]+)", line)
        if m and m.group(1).startswith(PREFIX + "-"):
            links.append(m.group(1))
    return links


def clean_stale():
    """Removes what an earlier, interrupted cluster left behind (same prefix)."""
    cleaned = []
    if os.path.exists(STATE_FILE):
        try:
            with open(STATE_FILE) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = {}
        for entry in state.get("pids", []):
            pid, started, what = entry["pid"], entry.get("start"), entry.get("what", "?")
            if alive(pid) and start_time(pid) == started:
                stop_pid(pid, f"stale {what}", wait=3.0)
                cleaned.append(f"{what} pid {pid}")
        base = state.get("base")
        if base and base.startswith(f"/tmp/{PREFIX}-") and os.path.isdir(base):
            for pid in pids_with_conf_under(base):
                stop_pid(pid, "stale client", wait=1.0, sig=signal.SIGKILL)
                cleaned.append(f"client pid {pid}")
            shutil.rmtree(base, ignore_errors=True)
            cleaned.append(base)
        os.unlink(STATE_FILE)
    for ns in our_namespaces():
        for pid in netns_pids(ns):
            stop_pid(pid, f"stale process in {ns}", wait=1.0, sig=signal.SIGKILL)
            cleaned.append(f"pid {pid} in {ns}")
    for pid in pids_with_conf_under(f"/tmp/{PREFIX}-"):
        stop_pid(pid, "stale client", wait=1.0, sig=signal.SIGKILL)
        cleaned.append(f"client pid {pid}")
    for link in our_links():
        sh(["ip", "link", "del", link], check=False)
        cleaned.append(f"link {link}")
    for ns in our_namespaces():
        sh(["ip", "netns", "del", ns], check=False)
        cleaned.append(f"netns {ns}")
    cleaned += remove_shm_segments()
    if cleaned:
        log(f"cleaned up after an earlier run: {', '.join(cleaned)}")


def remove_shm_segments():
    """Open MPI's shared-memory segments of ranks that ran on our nodes (named after the host)."""
    gone = []
    for name in os.listdir("/dev/shm"):
        if name.startswith(f"vader_segment.{PREFIX}"):
            try:
                os.unlink(os.path.join("/dev/shm", name))
                gone.append(f"/dev/shm/{name}")
            except OSError:
                pass
    return gone


# ---- the cluster -------------------------------------------------------------------------
class Cluster:
    def __init__(self, nodes=2, cpus=2, keep=False):
        self.nnodes, self.cpus, self.keep = nodes, cpus, keep
        self.nodes = [f"{PREFIX}{i}" for i in range(1, nodes + 1)]
        self.ns = {"ctl": f"{PREFIX}-ctl"}
        self.addr = {"ctl": f"{SUBNET}.10"}
        for i, n in enumerate(self.nodes, start=1):
            self.ns[n] = f"{PREFIX}-n{i}"
            self.addr[n] = f"{SUBNET}.{10 + i}"
        self.base = None
        self.procs = []  # (what, Popen), in start order
        self.down_nodes = set()
        self.lock_fd = None
        self.started = False

    # -- paths and environment
    def path(self, *parts):
        return os.path.join(self.base, *parts)

    @property
    def conf(self):
        return self.path("etc", "slurm.conf")

    def env(self, extra=None):
        env = dict(os.environ)
        env["SLURM_CONF"] = self.conf
        env.update(extra or {})
        return env

    # -- bring-up
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self.lock_fd = os.open(LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
        deadline = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"another test cluster holds {LOCK_FILE} for 15 min")
                time.sleep(1)
        self.started = True
        t0 = time.monotonic()
        clean_stale()
        self.base = tempfile.mkdtemp(prefix=f"{PREFIX}-", dir="/tmp")
        os.chmod(self.base, 0o755)
        for d in ("etc", "munge", "state", "log", "run", "spool", "tmp"):
            os.makedirs(self.path(d), exist_ok=True)
        for n in self.nodes:
            os.makedirs(self.path("tmp", n), exist_ok=True)
            os.makedirs(self.path("spool", n), exist_ok=True)
        os.chmod(self.path("munge"), 0o755)
        self.save_state()
        self.network()
        self.start_munge()
        self.write_conf()
        self.spawn("slurmctld", "ctl", f"{PREFIX}ctl", ["slurmctld", "-D", "-f", self.conf])
        self.wait_for(lambda: sh(["scontrol", "ping"], check=False, env=self.env())
                      .stdout.find("UP") >= 0, 30, "slurmctld to answer")
        for n in self.nodes:
            self.spawn(f"slurmd {n}", n, n, ["slurmd", "-D", "-f", self.conf, "-N", n])
        self.wait_for(lambda: len(self.idle_nodes()) == self.nnodes, 60,
                      f"{self.nnodes} nodes to be IDLE")
        log(f"up in {time.monotonic() - t0:.1f}s: nodes {' '.join(self.nodes)}, base {self.base}")

    def save_state(self):
        state = {"base": self.base,
                 "pids": [{"pid": p.pid, "start": start_time(p.pid), "what": what}
                          for what, p in self.procs]}
        with open(STATE_FILE + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(STATE_FILE + ".tmp", STATE_FILE)

    def network(self):
        sh(["ip", "link", "add", BRIDGE, "type", "bridge"])
        sysctl_off_ipv6(f"/proc/sys/net/ipv6/conf/{BRIDGE}/disable_ipv6")
        sh(["ip", "addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE])
        sh(["ip", "link", "set", BRIDGE, "up"])
        for host, ns in self.ns.items():
            veth = self.veth(host)
            sh(["ip", "netns", "add", ns])
            sh(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
            sh(["ip", "link", "set", veth, "master", BRIDGE])
            sh(["ip", "link", "set", veth, "up"])
            inns = ["nsenter", f"--net=/run/netns/{ns}"]
            sh(inns + ["sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6"],
               check=False)
            sh(inns + ["ip", "addr", "add", f"{self.addr[host]}/24", "dev", "eth0"])
            sh(inns + ["ip", "link", "set", "lo", "up"])
            sh(inns + ["ip", "link", "set", "eth0", "up"])

    def veth(self, host):
        return f"{PREFIX}-{'ctl' if host == 'ctl' else 'v' + host[len(PREFIX):]}"

    def start_munge(self):
        key = self.path("munge", "munge.key")
        sh(["mungekey", "--create", f"--keyfile={key}"])
        os.chmod(key, 0o600)
        self.munge_socket = self.path("munge", "munge.socket.2")
        argv = ["munged", "-F", f"--socket={self.munge_socket}", f"--key-file={key}",
                f"--log-file={self.path('log', 'munged.log')}",
                f"--pid-file={self.path('run', 'munged.pid')}",
                f"--seed-file={self.path('munge', 'munged.seed')}"]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(self.path("log", "munged.out"), "w"),
                             start_new_session=True)
        self.procs.append(("munged", p))
        self.save_state()
        self.wait_for(lambda: os.path.exists(self.munge_socket), 20, "munged's socket")

    def write_conf(self):
        b = self.base
        # Job ids unique across clusters on this machine: Open MPI names its shared-memory
        # segments (/dev/shm/vader_segment.HOST.*) after the PMIx namespace, i.e. the job id;
        # a segment a killed job left would make a later job of the same id fail MPI_Init.
        self.first_job_id = 1000 + (time.time_ns() // 10**8) % 60_000_000
        # SlurmdTimeout 30 s: a lost node is DOWN within about a minute, while the hang
        # watchdog (--hang-timeout 10 in the tests) ends the survivors well before, as in
        # production (SlurmdTimeout 300 s by default, the watchdog's auto bound >= 120 s).
        nodes = "\n".join(
            f"NodeName={n} NodeAddr={self.addr[n]} CPUs={self.cpus} Boards=1 SocketsPerBoard=1 "
            f"CoresPerSocket={self.cpus} ThreadsPerCore=1 RealMemory=2000 State=UNKNOWN"
            for n in self.nodes)
        names = f"{PREFIX}[1-{self.nnodes}]"
        conf = f"""# written by tests/slurm/cluster.py
ClusterName={PREFIX}
FirstJobId={self.first_job_id}
SlurmctldHost={PREFIX}ctl({self.addr['ctl']})
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket},cred_expire=10
StateSaveLocation={b}/state
SlurmdSpoolDir={b}/spool/%n
SlurmctldPidFile={b}/run/slurmctld.pid
SlurmdPidFile={b}/run/slurmd-%n.pid
SlurmctldLogFile={b}/log/slurmctld.log
SlurmdLogFile={b}/log/slurmd-%n.log
TmpFS={b}/tmp/%n
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
ReturnToService=2
SlurmdTimeout=30
MailProg=/bin/true
KillWait=5
MinJobAge=300
JobRequeue=1
RequeueExit=99
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal
{nodes}
PartitionName=scavenger Nodes={names} Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=10
PartitionName=scav0 Nodes={names} MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=0
PartitionName=urgent Nodes={names} MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    def spawn(self, what, host, hostname, argv):
        ns = self.ns[host]
        inner = f"hostname {hostname} && exec " + " ".join(argv)
        out = open(self.path("log", f"{what.replace(' ', '-')}.out"), "w")
        p = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns}", "unshare", "-u", "sh", "-c",
                              inner], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             env=self.env(), start_new_session=True)
        self.procs.append((what, p))
        self.save_state()
        return p

    def wait_for(self, ok, limit, what):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if ok():
                return
            for name, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited ({p.returncode}) while waiting for {what};"
                                       f" logs in {self.path('log')}:\n{self.log_tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {limit}s waiting for {what}\n{self.log_tail()}")

    def log_tail(self, lines=15):
        text = []
        for name in sorted(os.listdir(self.path("log"))):
            with open(self.path("log", name), errors="replace") as f:
                tail = f.readlines()[-lines:]
            text.append(f"--- {name}\n{''.join(tail)}")
        return "\n".join(text)

    # -- tear-down (always, in order)
    def stop(self):
        if not self.started:
            return
        t0 = time.monotonic()
        try:
            if any(w == "slurmctld" and p.poll() is None for w, p in self.procs):
                self.cancel_all()
        except Exception as e:  # the rest must still go
            log(f"while cancelling jobs: {e}")
        order = [x for x in self.procs if x[0].startswith("slurmd")] + \
                [x for x in self.procs if x[0] == "slurmctld"] + \
                [x for x in self.procs if x[0] == "munged"]
        for what, p in order:
            stop_pid(p.pid, what, wait=10.0)
            p.wait()
        for node in self.down_nodes:
            for pid in netns_pids(self.ns[node]):
                stop_pid(pid, f"frozen process {pid} on lost node {node}", wait=1.0,
                         sig=signal.SIGKILL)
        for ns in list(self.ns.values()):
            for pid in netns_pids(ns):
                stop_pid(pid, f"process {pid} left in {ns} ({cmdline(pid)[:80]})", wait=2.0)
        for link in our_links():
            sh(["ip", "link", "del", link], check=False)
        for ns in our_namespaces():
            sh(["ip", "netns", "del", ns], check=False)
        remove_shm_segments()
        if os.path.exists(STATE_FILE):
            os.unlink(STATE_FILE)
        if self.base and not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)
        elif self.base:
            log(f"kept {self.base}")
        self.started = False
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None
        log(f"down in {time.monotonic() - t0:.1f}s; namespaces, links and daemons removed")

    def cancel_all(self):
        jobs = self.squeue("%i %T")
        if not jobs:
            return
        sh(["scancel", "--signal=KILL", "--full", "--state=RUNNING", f"--user={os_user()}"],
           check=False, env=self.env())
        sh(["scancel", f"--user={os_user()}"], check=False, env=self.env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.squeue("%i"):
            time.sleep(0.2)
        left = self.squeue("%i %T")
        if left:
            log(f"jobs still in the queue after 30 s: {left}")

    # -- clients
    def cmd(self, argv, check=True, timeout=60):
        return sh(argv, check=check, env=self.env(), timeout=timeout)

    def squeue(self, fmt, job=None):
        argv = ["squeue", "-h", "-o", fmt] + (["-j", str(job)] if job else [])
        p = sh(argv, check=False, env=self.env())
        return [line.strip() for line in p.stdout.splitlines() if line.strip()]

    def idle_nodes(self):
        p = sh(["sinfo", "-h", "-N", "-t", "idle", "-o", "%N"], check=False, env=self.env())
        return sorted(set(p.stdout.split()))

    def node_state(self, node):
        return self.show("node", node).get("State", "?")

    def sbatch(self, argv, env, cwd):
        p = sh(["sbatch", "--parsable"] + list(argv), env=self.env(env), cwd=cwd)
        return p.stdout.strip().split(";")[0]

    def show(self, kind, ident):
        """scontrol show KIND ID -o as a dict (the first record)."""
        p = sh(["scontrol", "show", kind, "-o", str(ident)], check=False, env=self.env())
        line = p.stdout.strip().splitlines()[0] if p.stdout.strip() else ""
        fields = {}
        for m in re.finditer(r"(\w+(?::\w+)?)=(.*?)(?= \w+(?::\w+)?=|$)", line):
            fields[m.group(1)] = m.group(2)
        return fields

    def jobs(self, ident):
        """Every record of `scontrol show job ID` (array tasks), as dicts."""
        p = sh(["scontrol", "show", "job", "-o", str(ident)], check=False, env=self.env())
        out = []
        for line in p.stdout.strip().splitlines():
            fields = {}
            for m in re.finditer(r"(\w+(?::\w+)?)=(.*?)(?= \w+(?::\w+)?=|$)", line):
                fields[m.group(1)] = m.group(2)
            out.append(fields)
        return out

    def wait_gone(self, job, limit):
        """Waits until `job` (or every task of an array) left the queue; returns seconds."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if not self.squeue("%i", job):
                return time.monotonic() - t0
            time.sleep(0.2)
        raise TimeoutError(f"job {job} still in the queue after {limit}s: "
                           f"{self.squeue('%i %T %r %N', job)}")

    def kill_job_processes(self, stormrun):
        """SIGKILLs, at once, every batch shell, srun and stormrun rank on the nodes (a job
        killed outright: no signal handler runs, nothing is cleaned up). Returns how many."""
        victims = []
        for node in self.nodes:
            for pid in netns_pids(self.ns[node]):
                line = cmdline(pid)
                if "slurm_script" in line or line.startswith("srun ") or stormrun in line:
                    victims.append(pid)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(victims)

    def kill_node(self, node):
        """The node is lost: its link goes down, its slurmd is SIGKILLed, and everything else
        on it (slurmstepd, the batch shell, ranks) is frozen with SIGSTOP — unreachable, as a
        node that lost power or network is; it is KILLed when the cluster stops."""
        sh(["ip", "link", "set", self.veth(node), "down"])
        for what, p in self.procs:
            if what == f"slurmd {node}":
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
        frozen = []
        for pid in netns_pids(self.ns[node]):
            try:
                os.kill(pid, signal.SIGSTOP)
                frozen.append(pid)
            except ProcessLookupError:
                pass
        self.down_nodes.add(node)
        log(f"node {node} lost: link {self.veth(node)} down, slurmd KILLed, "
            f"{len(frozen)} processes frozen")


def sysctl_off_ipv6(path):
    try:
        with open(path, "w") as f:
            f.write("1")
    except OSError:
        pass


def os_user():
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


if __name__ == "__main__":
    # Bring a cluster up, show it, take it down: tests/slurm/cluster.py [NODES]
    import sys
    why = unavailable()
    if why:
        print(f"no cluster: {why}")
        sys.exit(77)
    with Cluster(nodes=int(sys.argv[1]) if len(sys.argv) > 1 else 2) as c:
        print(c.cmd(["sinfo"]).stdout)
        print(c.cmd(["srun", "-N", str(c.nnodes), "-n", str(c.nnodes), "hostname"]).stdout)
