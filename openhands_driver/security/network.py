"""Network checks: where traffic goes (only the incident's target is allowed), listeners,
unix sockets, and package managers that download software."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .common import _Ctx, _flag, _options, _short
from .risk import HIGH, MEDIUM
from .shell import _Word
from .tables import _PKG_READ


_LOOPBACK = {"localhost", "ip6-localhost", "::1", "0.0.0.0", "0"}


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


def _endpoint(url: str, default_scheme: str = "http") -> tuple[str, int | None] | None:
    """(host, port) of a URL or host[:port][/path]; None if there is no host in it."""
    text = url if "://" in url else f"{default_scheme}://{url}"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if port is None:
        port = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}.get(parts.scheme.lower())
    return host.lower().strip("[]"), port


_CURL_LONG_VALUES = {
    "--data", "--data-raw", "--data-binary", "--data-urlencode", "--data-ascii", "--json", "--header",
    "--request", "--output", "--user", "--user-agent", "--referer", "--form", "--form-string",
    "--upload-file", "--proxy", "--proxy-user", "--config", "--cookie", "--cookie-jar", "--write-out",
    "--max-time", "--connect-timeout", "--range", "--cert", "--key", "--cacert", "--url", "--resolve",
    "--connect-to", "--unix-socket", "--abstract-unix-socket", "--retry", "--retry-delay",
    "--retry-max-time", "--dump-header", "--output-dir", "--interface", "--dns-servers", "--doh-url",
    "--preproxy", "--socks4", "--socks4a", "--socks5", "--socks5-hostname", "--noproxy",
    "--limit-rate", "--max-filesize", "--stderr", "--trace", "--trace-ascii", "--variable",
    "--etag-save", "--hsts", "--alt-svc", "--oauth2-bearer", "--aws-sigv4", "--speed-limit",
    "--speed-time", "--time-cond", "--continue-at", "--quote", "--telnet-option", "--ftp-port",
    "--expect100-timeout", "--max-redirs", "--proto", "--proto-redir", "--local-port"}
_WGET_LONG_VALUES = {
    "--output-document", "--output-file", "--append-output", "--directory-prefix", "--input-file",
    "--execute", "--post-data", "--post-file", "--body-data", "--body-file", "--header",
    "--user-agent", "--user", "--password", "--http-user", "--http-password", "--method", "--tries",
    "--timeout", "--wait", "--bind-address", "--referer", "--load-cookies", "--save-cookies",
    "--ca-certificate", "--certificate", "--private-key", "--proxy-user", "--proxy-password",
    "--level", "--domains", "--accept", "--reject"}


class _NetworkChecks:
    """Checker part: destinations, curl/wget/nc/socat/ssh/probes/openssl, package managers."""

    def allowed(self, host: str, port: int | None, ctx: _Ctx, host_only: bool = False) -> bool:
        host = host.lower().strip("[]")
        if ctx.where == "target" and self.scope.backend == "docker" and _is_loopback(host):
            return True  # loopback inside the incident's container is the incident
        if not self.target:
            return False
        thost, tport = self.target
        same = host == thost or (_is_loopback(host) and _is_loopback(thost))
        return same and (host_only or port == tport)

    def destination(self, tool: str, word: _Word, ctx: _Ctx, scheme: str = "http",
                    host_only: bool = False) -> None:
        texts = self.expand_all(word, ctx)
        if texts is None:
            self.add(HIGH, "net.unchecked", f"{tool} connects to {_short(word.text, 60)}, an address "
                                            "only known at run time")
            return
        for text in texts:
            found = _endpoint(text, scheme)
            if found is None:
                self.add(HIGH, "net.unchecked", f"{tool} connects to {_short(text, 60)}, an address "
                                                "the policy cannot read")
                continue
            host, port = found
            if not self.allowed(host, port, ctx, host_only):
                where = f"{host}:{port}" if port and not host_only else host
                self.add(HIGH, "net.egress", f"{tool} sends data to {where}, which is not the "
                                             "incident's target")

    def h_curl(self, name, args, ctx, cmd):
        flags, pos = _options(args, "dHXouAeFTxUKbcwmrECYyzDPQt", _CURL_LONG_VALUES)
        urls = list(pos) + [v for f, v in flags if f == "--url" and isinstance(v, _Word)]
        for flag, value in flags:
            if flag in ("-x", "--proxy", "--preproxy", "--socks4", "--socks4a", "--socks5",
                        "--socks5-hostname", "--doh-url") and isinstance(value, _Word):
                self.destination(f"curl {flag}", value, ctx)
            elif flag in ("--resolve", "--connect-to", "--dns-servers", "--interface"):
                self.add(HIGH, "net.unchecked", f"curl {flag} can send the request somewhere else")
            elif flag in ("--unix-socket", "--abstract-unix-socket"):
                self.engine_socket("curl", value)
            elif flag in ("-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar", "--trace",
                          "--trace-ascii", "--stderr", "--etag-save", "--hsts", "--alt-svc") \
                    and isinstance(value, _Word) and value.text != "-":
                self.write(value, ctx, "curl saves to")
            elif flag in ("-O", "--remote-name", "--remote-name-all"):
                out_dir = _flag(flags, "--output-dir")
                self.write(out_dir if isinstance(out_dir, _Word) else _Word("."), ctx,
                           "curl saves downloads into")
            elif flag in ("-K", "--config"):
                self.add(HIGH, "net.unchecked", "curl -K reads more options and URLs from a file")
        if not urls:
            self.add(MEDIUM, "cmd.unknown", "curl without a URL the policy can check")
        for url in urls:
            self.destination("curl", url, ctx)

    def engine_socket(self, tool: str, value) -> None:
        text = value.text if isinstance(value, _Word) else ""
        if "docker" in text or "containerd" in text or "podman" in text:
            self.add(HIGH, "container.engine",
                     f"{tool} talks to the container engine directly ({_short(text, 40)})")
        else:
            self.add(HIGH, "net.unchecked", f"{tool} talks to the unix socket {_short(text, 40)}")

    def h_wget(self, name, args, ctx, cmd):
        flags, pos = _options(args, "OoaPietTwQUBlDARIX", _WGET_LONG_VALUES)
        names = {f for f, _ in flags}
        if names & {"-i", "--input-file", "-e", "--execute"}:
            self.add(HIGH, "net.unchecked", "wget -i/-e reads URLs or settings the policy cannot see")
        for flag, value in flags:
            if flag in ("-o", "--output-file", "-a", "--append-output", "--save-cookies") and \
                    isinstance(value, _Word):
                self.write(value, ctx, "wget writes")
        out = _flag(flags, "-O", "--output-document")
        if isinstance(out, _Word):
            if out.text != "-":
                self.write(out, ctx, "wget saves to")
        elif "--spider" not in names:
            prefix = _flag(flags, "-P", "--directory-prefix")
            self.write(prefix if isinstance(prefix, _Word) else _Word("."), ctx, "wget saves downloads into")
        if not pos:
            self.add(MEDIUM, "cmd.unknown", "wget without a URL the policy can check")
        for url in pos:
            self.destination("wget", url, ctx)

    def h_nc(self, name, args, ctx, cmd):
        flags, pos = _options(args, "pswiqxXecWIOTPGgM", ("--exec", "--sh-exec", "--lua-exec", "--proxy",
                                                          "--source", "--wait", "--source-port"))
        names = {f for f, _ in flags}
        if names & {"-l", "--listen"}:
            self.add(HIGH, "net.listen", f"{name} -l opens a network listener")
        if names & {"-e", "-c", "--exec", "--sh-exec", "--lua-exec"}:
            self.add(HIGH, "net.listen", f"{name} -e/-c serves a program to the network")
        if names & {"-U", "--unixsock"}:
            self.engine_socket(name, pos[0] if pos else None)
            return
        proxy = _flag(flags, "-x", "--proxy")
        if isinstance(proxy, _Word):
            self.destination(f"{name} -x", proxy, ctx)
        if pos and not names & {"-l", "--listen"}:
            port = pos[1] if len(pos) > 1 else _Word("23" if name == "telnet" else "")
            text = f"{pos[0].text}:{port.text}" if port.text else pos[0].text
            self.destination(name, _Word(text, pos[0].dynamic or port.dynamic), ctx, scheme="tcp")

    def h_socat(self, name, args, ctx, cmd):
        for word in _options(args, "", ())[1]:
            upper = word.text.upper()
            if upper in ("-", "STDIO", "STDIN", "STDOUT", "STDERR"):
                continue
            if re.match(r"(?:TCP|UDP|SCTP)[46]?-LISTEN|UNIX-LISTEN|OPENSSL-LISTEN", upper):
                self.add(HIGH, "net.listen", "socat opens a network listener")
            elif re.match(r"(?:TCP|UDP|SCTP)[46]?:", upper):
                rest = word.text.split(":", 1)[1].split(",")[0]
                self.destination("socat", _Word(rest, word.dynamic), ctx, scheme="tcp")
            elif "docker" in word.text:
                self.engine_socket("socat", word)
            else:
                self.add(HIGH, "net.unchecked",
                         f"socat address {_short(word.text, 40)} is not one the policy checks")

    def h_remote(self, name, args, ctx, cmd):
        self.add(HIGH, "net.egress", f"{name} connects to a remote host or service")

    def h_probe(self, name, args, ctx, cmd):
        for word in args:
            t = word.text
            if t.startswith(("-", "+")) or re.fullmatch(r"\d+(?:\.\d+)?|A|AAAA|MX|TXT|NS|ANY|CNAME|SOA|PTR|SRV"
                                                         r"|IN|CH", t):
                continue
            self.destination(name, _Word(t.lstrip("@"), word.dynamic), ctx, host_only=True)

    def h_openssl(self, name, args, ctx, cmd):
        sub = args[0].text if args else ""
        texts = [w.text for w in args]
        if sub in ("s_server",):
            self.add(HIGH, "net.listen", "openssl s_server opens a network listener")
        elif sub == "s_client":
            target = args[texts.index("-connect") + 1] if "-connect" in texts[:-1] else _Word("localhost:443")
            self.destination("openssl s_client", target, ctx, scheme="tcp")
        for i, t in enumerate(texts[:-1]):
            if t == "-out":
                self.write(args[i + 1], ctx, f"openssl {sub} writes")

    def h_pkg(self, name, args, ctx, cmd):
        sub = next((w.text for w in args if not w.text.startswith("-")), "")
        if name in ("npx", "uvx", "bun", "deno") or (name == "pipx" and sub == "run"):
            self.add(HIGH, "pkg.install", f"{name} downloads and runs packages")
        elif name in ("go", "cargo") and sub in ("build", "run", "test", "vet", "fmt", "check", "doc"):
            self.add(MEDIUM, "script.run", f"{name} {sub} builds and runs code (not analysed)")
        elif sub not in _PKG_READ or (not sub and not args):
            what = " ".join(f"{name} {sub}".split())
            self.add(HIGH, "pkg.install", f"{what} downloads or changes installed software")

    def h_uv(self, name, args, ctx, cmd):
        sub = args[0].text if args else ""
        if sub == "run":
            flags, rest = _options(args[1:], "pw", ("--with", "--python", "--project", "--directory",
                                                    "--env-file", "--extra", "--group", "--package",
                                                    "--with-requirements", "--index", "--index-url",
                                                    "--from"), True)
            if _flag(flags, "--with", "-w", "--with-requirements", "--index", "--index-url", "--from"):
                self.add(HIGH, "pkg.install", "uv run --with downloads packages")
            if rest:
                self.run(rest, ctx.child(), cmd)
        elif sub == "pip" and len(args) > 1 and args[1].text in _PKG_READ:
            return
        elif sub not in ("--version", "version", "help", "tree", "--help"):
            self.add(HIGH, "pkg.install", f"uv {sub} downloads or changes installed software")
