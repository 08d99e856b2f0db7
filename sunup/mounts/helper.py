"""`sunup-enter`: a small C program doing what `namespace.enter` does, then exec'ing the instance.

Why a program: entering the namespace from Python needs a `preexec_fn`, which makes Python
fork(2) the supervisor instead of vfork(2); for 200 instances that costs 0.3 s more than the
start without namespaces. Exec'd through vfork like `setpriv`, the helper makes the namespace
nearly free (docs/mounts.md has the figures). It is compiled once per state folder, at the first
`sunup up`, with the machine's C compiler (`cc`, `gcc` or `clang`), into
``<state>/helpers/sunup-enter-<hash of its source>``; where there is no compiler, or the program
cannot run, the supervisor uses the `preexec_fn` and says nothing (same result, slower start).

    sunup-enter MODE KEPT UID GID APP_DIR OVERLAY N [SOURCE TARGET]... C [CGROUP_PROCS]... -- PROGRAM [ARG]...

First it joins the instance's cgroups: it writes its pid to each of the C `cgroup.procs` files
(that is what the shell prelude of `sunup.isolation` does; done here, a simple start command
needs no shell at all). MODE is ``m`` (a mount namespace) or ``u`` (a user namespace owning
one); KEPT the mount flags the read-only remount keeps; OVERLAY ``-``, or the options of the
read-only overlay of the group's mount points on the app folder (`NamespaceSetup.points`). The
steps are those of `namespace` (the same order, the same messages); then PR_SET_PDEATHSIG=SIGKILL,
and the exec of PROGRAM. A failing step writes ``sunup: could not ...`` to stderr and exits with status 125; a PROGRAM
that cannot run exits 127 (not found) or 126, as a shell would. With ``SUNUP_ENTER_NOFILE`` in
its environment, it first sets that soft open-file limit and removes the variable.

    sunup-enter w SUPERVISOR_PID TOP...

The watchdog mode (`start_watchdog`): it waits for its parent, the supervisor, to die
(PR_SET_PDEATHSIG), then SIGKILLs every process of every group under each TOP cgroup folder, pass
after pass until a pass finds none. A supervisor that ends normally has stopped everything and
kills its watchdog first; one that is SIGKILLed leaves nothing running behind it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sunup.mounts.namespace import Mode, NamespaceSetup

SOURCE = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *path) {
    int saved = errno;
    fprintf(stderr, "sunup: could not set up the mount namespace: %s%s%s: %s\n", what, path ? " " : "",
            path ? path : "", strerror(saved));
    return 125;
}

static int put(const char *file, const char *text) {
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t size = (ssize_t)strlen(text), written = write(fd, text, (size_t)size);
    close(fd);
    return written == size ? 0 : -1;
}

static int kill_pass(int tops, char **top) {
    int found = 0;
    for (int t = 0; t < tops; t++) {
        DIR *folder = opendir(top[t]);
        if (!folder) continue;
        struct dirent *entry;
        while ((entry = readdir(folder))) {
            if (entry->d_type != DT_DIR || entry->d_name[0] == '.') continue;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s/cgroup.procs", top[t], entry->d_name);
            FILE *procs = fopen(path, "re");
            if (!procs) continue;
            int pid;
            while (fscanf(procs, "%d", &pid) == 1)
                if (pid > 0 && kill(pid, SIGKILL) == 0) found = 1;
            fclose(procs);
        }
        closedir(folder);
    }
    return found;
}

static int watch(int argc, char **argv) {
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGUSR1);
    sigprocmask(SIG_BLOCK, &wanted, NULL);
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() == (pid_t)atoi(argv[2])) {
        int received;
        sigwait(&wanted, &received);
    }
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (int pass = 0; pass < 400 && kill_pass(argc - 3, argv + 3); pass++) nanosleep(&pause, NULL);
    return 0;
}

int main(int argc, char **argv) {
    pid_t parent = getppid();
    if (argc >= 3 && strcmp(argv[1], "w") == 0) return watch(argc, argv);
    if (argc < 11) {
        fprintf(stderr, "usage: sunup-enter MODE KEPT UID GID APP OVERLAY N [SRC DST]... C [PROCS]... -- ARGV\n");
        return 125;
    }
    int user = argv[1][0] == 'u';
    unsigned long kept = strtoul(argv[2], NULL, 10);
    const char *app = argv[5];
    const char *overlay = strcmp(argv[6], "-") != 0 ? argv[6] : NULL;
    int binds = atoi(argv[7]);
    int groups = binds >= 0 && argc > 8 + 2 * binds ? atoi(argv[8 + 2 * binds]) : -1;
    int end = 9 + 2 * binds + groups;
    if (binds < 0 || groups < 0 || argc < end + 2 || strcmp(argv[end], "--") != 0) {
        fprintf(stderr, "sunup-enter: bad arguments\n");
        return 125;
    }
    const char *nofile = getenv("SUNUP_ENTER_NOFILE");
    if (nofile) { /* the supervisor raised its own open-file limit: the instance gets the usual one */
        struct rlimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
            limit.rlim_cur = (rlim_t)strtoull(nofile, NULL, 10);
            setrlimit(RLIMIT_NOFILE, &limit);
        }
        unsetenv("SUNUP_ENTER_NOFILE");
    }
    char self[32];
    snprintf(self, sizeof self, "%d\n", (int)getpid());
    for (int i = 0; i < groups; i++) {
        const char *procs = argv[9 + 2 * binds + i];
        if (put(procs, self) != 0) {
            fprintf(stderr, "sunup: could not join its cgroup: write %s: %s\n", procs, strerror(errno));
            return 125;
        }
    }
    char here[PATH_MAX];
    if (!getcwd(here, sizeof here)) return fail("getcwd", NULL);
    if (unshare(CLONE_NEWNS | (user ? CLONE_NEWUSER : 0)) != 0)
        return fail(user ? "unshare(user, mount)" : "unshare(mount)", NULL);
    if (user) {
        char map[64];
        if (put("/proc/self/setgroups", "deny") != 0) return fail("write", "/proc/self/setgroups");
        snprintf(map, sizeof map, "%s %s 1\n", argv[3], argv[3]);
        if (put("/proc/self/uid_map", map) != 0) return fail("write", "/proc/self/uid_map");
        snprintf(map, sizeof map, "%s %s 1\n", argv[4], argv[4]);
        if (put("/proc/self/gid_map", map) != 0) return fail("write", "/proc/self/gid_map");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return fail("mount", "/");
    if (overlay && mount("overlay", app, "overlay", MS_RDONLY | kept, overlay) != 0) return fail("overlay on", app);
    for (int i = 0; i < binds; i++) {
        const char *source = argv[8 + 2 * i], *target = argv[9 + 2 * i];
        if (mount(source, target, NULL, MS_BIND, NULL) != 0) return fail("bind on", target);
    }
    if (!overlay) {
        if (mount(app, app, NULL, MS_BIND | MS_REC, NULL) != 0) return fail("bind", app);
        if (mount(NULL, app, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept, NULL) != 0) return fail("mount", app);
    }
    if (chdir(here) != 0) return fail("chdir", here);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) return 125; /* the supervisor died before the death signal was set */
    char **program = argv + end + 1;
    execvp(program[0], program);
    int saved = errno;
    fprintf(stderr, "sunup: %s: %s\n", program[0], saved == ENOENT ? "command not found" : strerror(saved));
    return saved == ENOENT ? 127 : 126;
}
"""

#: In the helper's environment only: the soft open-file limit to set before the exec (the
#: supervisor's original one, `sunup.supervisor.child.raise_open_file_limit`); removed from the
#: environment the program gets.
NOFILE_VARIABLE = "SUNUP_ENTER_NOFILE"
#: Where compiled helpers go in the state folder.
HELPERS = "helpers"
COMPILERS = ("cc", "gcc", "clang")


def helper_path(state_root: Path) -> Path:
    """Where the helper of this source is (or would be) in `state_root`."""
    digest = hashlib.sha256(SOURCE.encode()).hexdigest()[:12]
    return state_root / HELPERS / f"sunup-enter-{digest}"


def compile_helper(state_root: Path) -> Path | None:
    """The helper program, compiled now if it is not there yet; None without a working compiler."""
    target = helper_path(state_root)
    if os.access(target, os.X_OK):
        return target
    compiler = next((found for name in COMPILERS if (found := shutil.which(name))), None)
    if compiler is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=target.parent) as folder:
        source, program = Path(folder, "sunup-enter.c"), Path(folder, "sunup-enter")
        source.write_text(SOURCE, encoding="utf-8")
        try:
            result = subprocess.run(
                [compiler, "-O2", "-o", str(program), str(source)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if result.returncode != 0 or not program.exists():
            return None
        os.replace(program, target)
    return target


def helper_argv(helper: Path, setup: NamespaceSetup, argv: list[str], join: Sequence[str] = ()) -> list[str]:
    """`argv` run by the helper inside the namespace of `setup`, after joining the cgroups whose
    `cgroup.procs` files `join` lists."""
    binds = [path for bind in setup.binds for path in (bind.source, bind.target)]
    mode = "u" if setup.mode is Mode.USER else "m"
    overlay = setup.overlay_options() or "-"
    head = [str(helper), mode, str(setup.kept_flags), str(setup.uid), str(setup.gid), setup.app_dir, overlay]
    return [*head, str(len(setup.binds)), *binds, str(len(join)), *join, "--", *argv]


def start_watchdog(helper: Path, tops: Sequence[str]) -> subprocess.Popen[bytes] | None:
    """The watchdog of this process (see the module doc) over the cgroup folders `tops`; None
    when it cannot start. Stop it with `stop_watchdog` before a normal exit."""
    if not tops:
        return None
    try:
        return subprocess.Popen(
            [str(helper), "w", str(os.getpid()), *tops],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return None


def stop_watchdog(watchdog: subprocess.Popen[bytes]) -> None:
    """End the watchdog without letting it act (the supervisor stopped everything itself)."""
    watchdog.kill()
    watchdog.wait()
