"""Drive the real bash, zsh and fish through their completion of a typed line (imports nothing from phasecli).

bash and zsh run interactively on a pseudo-terminal: the line is typed, TAB pressed, and the words the
completion function offered are captured as the shell hands them to readline / zle (bash: COMPREPLY
after the function ran with the shell's own COMP_WORDS, COMP_CWORD and arguments; zsh: every match
passed to compadd, with compinit and the script autoloaded from $fpath as a user installs it).  fish
answers ``complete -C LINE`` itself.  Each shell is started once and then completes many lines.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import tempfile
import time


class ShellError(RuntimeError):
    pass


class _PtyShell:
    argv: list
    prompt_setup: str

    def __init__(self, script: str):
        self.dir = tempfile.mkdtemp(prefix="phasecli-complete-")
        self.out = os.path.join(self.dir, "hits")
        open(self.out, "w").close()
        self.master, slave = pty.openpty()
        env = dict(os.environ, TERM="dumb", HOME=self.dir, ZDOTDIR=self.dir, INPUTRC="/dev/null", PS1="",
                   PROMPT="")
        self.proc = subprocess.Popen(self.argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                                     start_new_session=True, cwd=self.dir)
        os.close(slave)
        self.transcript = b""
        self.count = 0
        self._send(self.setup(script) + "\n")
        self._sync()

    def setup(self, script: str) -> str:
        raise NotImplementedError

    def _send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def _read_until(self, marker: bytes, timeout: float = 20.0) -> bytes:
        end = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                buf += chunk
                if marker in buf:
                    self.transcript += buf
                    return buf
        self.transcript += buf
        raise ShellError(f"{self.argv[0]}: no {marker!r} within {timeout} s; output: {buf[-500:]!r}")

    def _sync(self) -> None:
        """Run a command that prints a fresh marker and wait for its output (not its echo)."""
        self.count += 1
        self._send(f"echo SYNC{self.count}''DONE\n")
        self._read_until(f"SYNC{self.count}DONE".encode())

    def complete(self, line: str) -> list:
        """The words the shell's completion offers for ``line`` (cursor at its end), in order."""
        open(self.out, "w").close()
        before = len(self.transcript)
        self._send(line + "\t")
        time.sleep(0.05)
        self._send("\x15")  # kill the typed line, then wait for the shell to be idle again
        self._sync()
        self.last_output = self.transcript[before:].decode(errors="replace")
        with open(self.out) as fh:
            return [w for w in fh.read().split("\n") if w]

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait(10)
        os.close(self.master)
        shutil.rmtree(self.dir, ignore_errors=True)


class Bash(_PtyShell):
    argv = ["bash", "--norc", "--noprofile", "-i"]

    def setup(self, script):
        # the shell's own completion function runs; a wrapper records COMPREPLY as readline receives it
        return (f"source {script}; __capture() {{ _phasecli \"$@\"; "
                f"[[ ${{#COMPREPLY[@]}} -gt 0 ]] && printf '%s\\n' \"${{COMPREPLY[@]}}\" > {self.out}; }}; "
                "complete -F __capture phasecli")


class Zsh(_PtyShell):
    argv = ["zsh", "-f", "-i"]

    def setup(self, script):
        shutil.copy(script, os.path.join(self.dir, "_phasecli"))
        # compadd calls that only query (-O/-A/-D) are left alone; every other call's matches are recorded
        return ("unsetopt zle_bracketed_paste 2>/dev/null; fpath=(" + self.dir + " $fpath); "
                "autoload -U compinit; compinit -u -d " + self.dir + "/zcompdump; "
                "compadd() { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"$@\"; return; fi; "
                "local -a __hits; builtin compadd -A __hits \"$@\"; print -rl -- $__hits >> " + self.out + "; }")


def fish_complete(script: str, lines: list) -> list:
    """``complete -C LINE`` in one fish process for every line; the candidate words per line."""
    marker = "@@phasecli-next@@"
    body = [f"source {script}"]
    for line in lines:
        body += [f"echo {marker}", "complete -C " + "'" + line.replace("\\", "\\\\").replace("'", "\\'") + "'"]
    r = subprocess.run(["fish", "--no-config", "-c", "\n".join(body)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or r.stderr.strip():
        raise ShellError(f"fish: exit {r.returncode}: {r.stderr.strip()[:500]}")
    chunks = r.stdout.split(marker + "\n")[1:]
    return [[entry.split("\t")[0] for entry in chunk.split("\n") if entry] for chunk in chunks]


def run_on_terminal(argv: list, env: dict | None = None, timeout: float = 300.0):
    """Run ``argv`` with stdin and stdout on a pseudo-terminal (stderr a pipe); returns
    (exit status, terminal output with ANSI escapes removed, stderr text)."""
    import re

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE, close_fds=True,
                            env=dict(os.environ, **(env or {})))
    os.close(slave)
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    err = proc.stderr.read().decode(errors="replace")
    status = proc.wait(timeout)
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace")).replace("\r", "")
    return status, text, err
