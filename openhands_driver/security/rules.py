"""The rule table: every rule id the policy can report, with its risk and what it catches."""

from __future__ import annotations

from .risk import HIGH, LOW, MEDIUM


RULES = {  # id: (risk, what it catches)
    "env.dump": (HIGH, "prints or reads the whole environment (env, printenv, set, export -p, os.environ)"),
    "env.proc-environ": (HIGH, "reads /proc/<pid>/environ"),
    "secret.var": (HIGH, "expands or reads a secret variable ($LLM_API_KEY, *_KEY, *_TOKEN, ...)"),
    "secret.value": (HIGH, "contains the value of a known secret"),
    "secret.file": (HIGH, "reads credential files (~/.ssh, ~/.aws, ~/.netrc, /etc/shadow, a .env outside "
                          "the target)"),
    "net.egress": (HIGH, "sends data to a host other than the incident's target"),
    "net.unchecked": (HIGH, "network destination only known at run time, or rerouted"),
    "net.listen": (HIGH, "opens a listener or serves a shell/program to the network"),
    "net.pipe-shell": (HIGH, "runs downloaded content (curl ... | sh, sh <(curl ...))"),
    "pkg.install": (HIGH, "downloads or changes installed software"),
    "fs.delete-outside": (HIGH, "recursive delete outside the target root"),
    "fs.delete-root": (HIGH, "recursive delete of the target root or the workspace itself"),
    "fs.write-outside": (HIGH, "writes outside the target root and the workspace"),
    "fs.unknown-path": (HIGH, "writes or deletes a path only known at run time"),
    "fs.write-skills": (HIGH, "writes the project's skills (the workspace's .agents links to the repo)"),
    "fs.link-outside": (HIGH, "creates a link that points outside the target"),
    "priv.escalate": (HIGH, "sudo, su, doas, privileged docker exec"),
    "priv.owner": (HIGH, "ownership or account changes (chown, chgrp, passwd, useradd, ...)"),
    "priv.mode": (HIGH, "setuid/setgid or world-writable permissions"),
    "priv.system": (HIGH, "changes the host system (mount, sysctl, iptables, crontab, hostname, ...)"),
    "proc.kill-foreign": (HIGH, "signals processes that are not the incident's"),
    "proc.system": (HIGH, "systemctl, service, reboot, shutdown, tracing other processes"),
    "container.foreign": (HIGH, "acts on a container that is not the incident's"),
    "container.engine": (HIGH, "drives the Docker engine beyond the incident's container"),
    "k8s": (HIGH, "acts on a Kubernetes cluster (no part of the incident)"),
    "k8s.read": (MEDIUM, "reads a Kubernetes cluster (no part of the incident)"),
    "code.dynamic": (HIGH, "runs code or commands built at run time"),
    "shell.nested": (HIGH, "shell nesting too deep to analyse"),
    "shell.unparsed-danger": (HIGH, "unparseable command with a dangerous part"),
    "fs.write-target": (MEDIUM, "changes files inside the incident's target"),
    "fs.write-workspace": (MEDIUM, "writes the agent's scratch workspace"),
    "target.restart": (MEDIUM, "restarts the incident's service"),
    "proc.kill-target": (MEDIUM, "signals the incident's own processes"),
    "container.own-change": (MEDIUM, "restarts or changes the incident's own container"),
    "skill.remediate": (MEDIUM, "runs a skill's remediate.py"),
    "script.run": (MEDIUM, "runs a script or module whose contents are not analysed"),
    "shell.stdin": (MEDIUM, "runs a shell/interpreter on input the policy cannot see"),
    "shell.unparsed": (MEDIUM, "the command cannot be parsed"),
    "cmd.unknown": (MEDIUM, "a command the policy does not know to be read-only"),
    "shell.cwd": (MEDIUM, "moves the persistent shell outside the workspace and the target"),
    "tool.unknown": (MEDIUM, "a tool the policy has no rules for"),
    "tool.input": (MEDIUM, "input sent to a running process"),
    "policy.error": (HIGH, "the policy itself failed on this action (fails closed)"),
    "read-only": (LOW, "no risky effect found"),
}
