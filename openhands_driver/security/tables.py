"""What the policy knows about command names and text patterns, and which handler judges each
command (_HANDLERS: command name -> the `h_<handler>` method of the checker)."""

from __future__ import annotations

import re


# --- command names ---------------------------------------------------------------------------
_READ_ONLY = set("""
cat head tail less more ls dir vdir ll stat file wc du df pwd echo printf
true false test [ which whereis whatis type date uname id whoami groups users who w uptime free
nproc lscpu lsblk getconf locale tty pgrep pidof top htop vmstat iostat mpstat ss netstat lsof
jq yq diff cmp comm sort uniq cut tr nl od xxd hexdump strings base64 basename dirname realpath
readlink md5sum sha1sum sha256sum sha512sum cksum tree column fold fmt tac rev paste join expand
unexpand zcat zless zgrep bzcat xzcat sleep seq expr read wait exit return break continue shift
unset : history clear tput man help cal arch printenv-not-here pgrep lsmod ulimit umask
""".split()) - {"printenv-not-here"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "fish"}
_DOWNLOADERS = {"curl", "wget", "fetch", "nc", "ncat", "netcat", "aria2c", "socat", "http",
                "https", "lynx", "links", "ftp", "tftp", "ssh", "scp", "telnet", "openssl"}
_REMOTE_TOOLS = {"ssh", "scp", "sftp", "ftp", "lftp", "rsh", "rlogin", "mosh", "tftp", "sshpass",
                 "rclone", "s3cmd", "aws", "gsutil", "gcloud", "az", "gh", "smbclient", "mail",
                 "sendmail", "mutt", "ssh-copy-id"}
_PROBES = {"ping", "ping6", "traceroute", "tracepath", "dig", "nslookup", "host", "whois", "mtr",
           "arping", "drill"}
_PKG_TOOLS = {"pip", "pip3", "pipx", "uvx", "npm", "npx", "yarn", "pnpm", "gem", "cargo", "go",
              "apt", "apt-get", "aptitude", "yum", "dnf", "apk", "brew", "snap", "pacman",
              "zypper", "conda", "mamba", "easy_install", "poetry", "pipenv", "bun", "deno"}
_PKG_READ = {"list", "show", "search", "info", "freeze", "version", "--version", "-v", "-V", "help",
             "outdated", "check", "why", "view", "ls", "policy", "env", "build", "vet", "test",
             "fmt", "doc", "--help"}
_SYSTEM_CMDS = {"mount", "umount", "insmod", "rmmod", "modprobe", "iptables", "ip6tables", "nft",
                "ufw", "firewall-cmd", "nsenter", "chroot", "unshare", "capsh", "swapon", "swapoff",
                "mkfs", "fdisk", "parted", "sfdisk", "wipefs", "losetup", "hostnamectl",
                "timedatectl", "update-alternatives", "ldconfig", "setenforce", "at", "batch",
                "tc", "ethtool", "route", "brctl", "mkswap", "blkdiscard", "setfacl", "chattr"}
_OWNER_CMDS = {"chown", "chgrp", "lchown", "setcap", "passwd", "chpasswd", "useradd", "usermod",
               "userdel", "groupadd", "groupdel", "groupmod", "adduser", "deluser", "addgroup",
               "delgroup", "visudo", "gpasswd", "newusers", "chsh", "chfn", "chage", "vipw"}
_SERVICE_CMDS = {"systemctl", "service", "reboot", "shutdown", "halt", "poweroff", "init",
                 "telinit", "launchctl", "rc-service", "supervisorctl", "strace", "ltrace", "gdb",
                 "perf", "bpftrace", "kexec", "systemd-run", "loginctl", "machinectl", "busctl", "dbus-send"}
_ESCALATE = {"sudo", "su", "doas", "pkexec", "runuser", "sg", "newgrp", "run0", "gosu", "su-exec",
             "setpriv", "capsh"}
_WRAPPERS = {  # name: (short options with a value, long options with a value, positionals to skip)
    "nohup": ("", (), 0), "nice": ("n", ("--adjustment",), 0), "ionice": ("cnpP", (), 0),
    "stdbuf": ("ioe", ("--input", "--output", "--error"), 0), "time": ("fo", ("--format", "--output"), 0),
    "timeout": ("sk", ("--signal", "--kill-after"), 1), "setsid": ("", (), 0), "chronic": ("", (), 0),
    "unbuffer": ("", (), 0), "builtin": ("", (), 0), "exec": ("a", (), 0), "command": ("", (), 0),
    "taskset": ("", (), 1), "chrt": ("", (), 1), "flock": ("wEn", ("--timeout",), 1),
    "caffeinate": ("", (), 0), "catchsegv": ("", (), 0), "busybox": ("", (), 0),
}

# --- text patterns ---------------------------------------------------------------------------
_CRED_RE = re.compile(
    r"(?:^|[/~])\.ssh(?:/|$)|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|(?:^|[/~])\.aws(?:/|$)|\.netrc\b"
    r"|\.docker/config\.json|/etc/(?:g?shadow|sudoers|security/opasswd)\b|\.git-credentials"
    r"|\.pgpass\b|\.kube/config|/run/secrets\b|(?:^|[/~])\.gnupg(?:/|$)|\.config/gcloud"
    r"|(?:^|[/~])\.azure(?:/|$)|\.npmrc\b|\.pypirc\b|\.\w*_history\b|(?:^|[/~])\.openhands(?:/|$)"
    r"|\.vault-token|\.password-store|\.boto\b|\.terraform\.d/credentials|\.config/gh/hosts")
_ENVIRON_RE = re.compile(r"/proc/[^/\s'\"]*/+environ")
_DOTENV_RE = re.compile(r"^\.env(?:\.(?!(?:example|sample|template|dist|defaults?)$)[\w.-]+)?$|^\.envrc$")
_SECRET_NAME_RE = re.compile(
    r"(?:^|_)(?:API_?KEY|KEY|KEYS|TOKEN|SECRET|PASS|PASSWD|PASSWORD|PASSPHRASE|CREDENTIALS?|AUTH"
    r"|PRIVATE_KEY|SESSION)(?:_|$)|PASSWORD|SECRET|TOKEN|APIKEY")
_VAR_REF_RE = re.compile(r"\$\{?(!?)([A-Za-z_][A-Za-z0-9_]*)")
_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`)]+")
_DANGER_RE = re.compile(
    r"\brm\s+-[a-zA-Z]*[rR]|--recursive|--no-preserve-root|\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b"
    r"|\bsudo\b|\bdoas\b|\bsu\s|\bprintenv\b|(?:^|[;&|]\s*)env\s*(?:$|[;&|])|/proc/\S*environ|\bmkfs|"
    r"\bdd\s|\bchmod\s+[0-7]*7{2,}|\bchown\b|\bkill(?:all)?\b|\bpkill\b|\bshutdown\b|\breboot\b|"
    r"\bcurl\b|\bwget\b|\bnc\b|\bssh\b|\.ssh\b|\bid_rsa\b|>\s*/(?!dev/null)|\bdocker\b|-delete\b")

# --- shell variables -------------------------------------------------------------------------
_ASSIGN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=")
_MAX_DEPTH = 8
_RISKY_VARS = {  # assigning these changes what later commands run or where they connect
    **dict.fromkeys(("PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "PYTHONPATH", "PYTHONSTARTUP",
                     "PYTHONHOME", "PYTHONINSPECT", "BASH_ENV", "ENV", "PROMPT_COMMAND", "PERL5OPT",
                     "PERL5LIB", "RUBYOPT", "NODE_OPTIONS", "GIT_SSH_COMMAND", "GIT_SSH", "GIT_EXEC_PATH",
                     "GIT_CONFIG_GLOBAL", "IFS", "SHELLOPTS", "BASHOPTS", "EDITOR", "VISUAL", "PAGER", "GIT_PAGER",
                     "MANPAGER", "GIT_EDITOR", "GIT_EXTERNAL_DIFF", "LESSOPEN", "LESSCLOSE",
                     "PS0", "PS1", "PS2", "PS3", "PS4"),  # prompts: expanded with their $(...) run
                    "code.dynamic"),
    **dict.fromkeys(("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "KUBECONFIG", "CONTAINER_HOST"),
                    "container.engine"),
    **dict.fromkeys(("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy",
                     "ftp_proxy", "FTP_PROXY", "CURL_HOME", "WGETRC", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"),
                    "net.unchecked"),
    **dict.fromkeys(("TARGETCTL_ROOT", "TARGETCTL_URL", "TARGETCTL_BACKEND", "TARGETCTL_CONTAINER",
                     "TARGETCTL_EXPECTED_PORT"), "fs.write-outside"),
}
_DECODERS = {"base64", "base32", "basenc", "xxd", "uudecode", "openssl", "rev", "tr", "gunzip", "zcat",
             "xz", "unxz", "bzcat", "gzip", "zstd", "unzstd", "od", "perl", "python", "python3", "awk", "sed"}
_NO_READ_CHECK = {"echo", "printf", "alias", "export", "declare", "typeset", "local", "targetctl",
                  "docker", "podman", "nerdctl"}

# --- command name -> handler: `_Checker.run` calls the method h_<handler> -------------------
_HANDLERS: dict[str, str] = {}
for _handler, _names in {
    "targetctl": "targetctl", "shell": " ".join(sorted(_SHELLS)), "code": "perl ruby node nodejs php lua",
    "awk": "awk gawk mawk nawk", "env": "env", "printenv": "printenv", "set": "set",
    "declare": "export declare typeset local readonly", "alias": "alias", "eval": "eval",
    "source": "source .", "cd": "cd pushd popd", "wrapper": " ".join(_WRAPPERS), "watch": "watch",
    "xargs": "xargs", "find": "find", "rm": "rm unlink rmdir shred srm", "tee": "tee",
    "copy": "cp mv install ln", "rsync": "rsync", "touch": "touch mkdir truncate mkfifo mknod fallocate",
    "chmod": "chmod", "dd": "dd", "sed": "sed", "tar": "tar", "unzip": "unzip",
    "compress": "gzip gunzip bzip2 bunzip2 xz unxz zstd unzstd lz4 compress uncompress",
    "patch": "patch", "sort": "sort", "git": "git", "curl": "curl", "wget": "wget",
    "nc": "nc ncat netcat telnet", "socat": "socat", "remote": " ".join(sorted(_REMOTE_TOOLS)),
    "probe": " ".join(sorted(_PROBES)), "openssl": "openssl", "pkg": " ".join(sorted(_PKG_TOOLS)),
    "uv": "uv", "docker": "docker podman nerdctl", "compose": "docker-compose podman-compose",
    "k8s": "kubectl oc helm k9s kustomize minikube kind", "kill": "kill",
    "pkill": "pkill killall killall5 skill slay", "service": " ".join(sorted(_SERVICE_CMDS)),
    "sudo": " ".join(sorted(_ESCALATE)), "owner": " ".join(sorted(_OWNER_CMDS)),
    "system": " ".join(sorted(_SYSTEM_CMDS)), "ps": "ps",
    "sysinfo": "hostname date ip ifconfig crontab sysctl dmesg journalctl getent",
    "editor": "vi vim nvim nano emacs ed ex pico joe micro", "trap": "trap", "grep": "grep egrep fgrep rg ag",
}.items():
    for _name in _names.split():
        _HANDLERS[_name] = _handler
del _handler, _names, _name
