#!/usr/bin/python3
"""Checks the container files without a Docker engine (this machine has none).

What is verified: compose.yaml and prometheus.yml parse and are wired to each other and to the
Dockerfile (ports, volumes, service names, files that exist); /metrics fails closed (the image
listens on loopback; compose serves the network only with a web config, and the real daemon
with that web config refuses a scrape without, and takes the one with, Prometheus's password); the Dockerfile's build packages
are scripts/install-deps minus the test-only ones; every package it installs exists in Debian
(apt-cache); the runtime stage provides every shared library the built binary links; every
METRICSD_* variable used is a documented setting; docker/README.md uses the same commands.
What is not: that the image builds and runs (needs an engine), which is said in the README.

usage: check_docker.py SOURCE_DIR METRICSD_BINARY
"""
import os
import re
import shlex
import subprocess
import sys

import yaml

TEST_ONLY = {"libgtest-dev", "libgmock-dev", "python3", "python3-pip", "python3-venv",
             "python3-prometheus-client",
             "python3-yaml", "python3-jsonschema", "redis-server", "prometheus", "systemd",
             "clang-14", "libclang-rt-14-dev",  # the fuzz targets (make fuzz)
             "nodejs",  # the Node.js client's tests
             # the Python client's real-server tests (client/python/tests/test_servers.py)
             "uwsgi", "uwsgi-plugin-python3", "gunicorn", "python3-flask",
             "php-cli", "php-fpm", "libfcgi-bin",  # the PHP client's tests (php-fpm over FastCGI)
             "ruby", "puma",  # the Ruby client's tests
             "openssl", "curl"}  # the web access tests: certificates made at test time, curl scrapes
# In debian:bookworm-slim already (Priority: required/important, or libstdc++6 via apt).
BASE_IMAGE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def stages(dockerfile):
    """[(name, [instructions])], continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile)
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append((line, []))
        elif result:
            result[-1][1].append(line)
    return result


def apt_packages(instructions):
    packages = []
    for ins in instructions:
        if not ins.upper().startswith("RUN "):
            continue
        for cmd in ins[4:].split("&&"):
            words = shlex.split(cmd)
            if "apt-get" in words and "install" in words:
                packages += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return packages


def install_deps_packages(src):
    text = open(os.path.join(src, "scripts/install-deps")).read()
    return re.search(r'PACKAGES="([^"]*)"', text).group(1).split()


def apt_known(packages):
    """The subset of packages Debian's apt lists know (one apt-cache call: each takes ~1 s)."""
    out = subprocess.run(["apt-cache", "show", "--no-all-versions", *packages],
                         capture_output=True, text=True).stdout
    return set(re.findall(r"^Package: (\S+)$", out, re.M))


# Sanitizer runtimes (libasan, libubsan, ...): linked only by the sanitized test build
# (`make test-sanitize` checks its own binary); the image builds without sanitizers.
SANITIZER_RUNTIME = re.compile(r"/lib(a|ub|l|t|hwa)san\.so[.\d]*$")


def linked_packages(binary):
    """Debian packages owning the shared libraries the binary loads (sanitizer runtimes aside)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    owners = set()
    for path in re.findall(r"=> (/\S+)", out):
        if SANITIZER_RUNTIME.search(path):
            continue
        real = os.path.realpath(path)
        for candidate in {path, real, real.replace("/usr/lib/", "/lib/"),
                          path.replace("/lib/", "/usr/lib/", 1)}:
            r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if r.returncode == 0:
                owners.add(r.stdout.split(":")[0])
                break
        else:
            check(False, f"no Debian package owns {path}")
    return owners


def env_of(instructions):
    env = {}
    for ins in instructions:
        if ins.upper().startswith("ENV "):
            for word in shlex.split(ins[4:]):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def documented_variables(src):
    readme = open(os.path.join(src, "config/README.md")).read()
    return set(re.findall(r"`(METRICSD_[A-Z_]+)`", readme))


def check_dockerfile(src, binary):
    dockerfile = open(os.path.join(src, "docker/Dockerfile")).read()
    st = stages(dockerfile)
    check(len(st) == 2, f"expected a build and a runtime stage, found {len(st)}")
    build, runtime = st[0], st[-1]
    check("debian:bookworm" in build[0], f"build stage is not Debian bookworm: {build[0]}")
    check("debian:bookworm-slim" in runtime[0], f"runtime stage is not bookworm-slim: {runtime[0]}")
    wanted = [p for p in install_deps_packages(src) if p not in TEST_ONLY]
    got = apt_packages(build[1])
    check(sorted(got) == sorted(wanted),
          f"build packages differ from scripts/install-deps minus test-only: "
          f"missing {sorted(set(wanted) - set(got))}, extra {sorted(set(got) - set(wanted))}")
    run_pkgs = apt_packages(runtime[1])
    check(not any(p.endswith("-dev") for p in run_pkgs), f"-dev package at runtime: {run_pkgs}")
    known = apt_known(got + run_pkgs + ["libc6"])
    if "libc6" not in known:
        print("NOTE: apt lists are empty (run apt-get update); package existence not checked")
    else:
        for p in got + run_pkgs:
            check(p in known, f"Debian has no package {p} (apt-cache show)")
    missing = linked_packages(binary) - set(run_pkgs) - BASE_IMAGE
    check(not missing, f"runtime stage lacks libraries the binary links: {sorted(missing)}")
    user = [i for i in runtime[1] if i.upper().startswith("USER ")]
    check(user and not user[-1].split()[1].startswith(("root", "0")), "runtime runs as root")
    env = env_of(runtime[1])
    known = documented_variables(src) | {"METRICSD_CONFIG"}
    for name in env:
        check(name in known, f"Dockerfile sets {name}, which is no documented setting")
    expose = [i.split()[1] for i in runtime[1] if i.upper().startswith("EXPOSE ")]
    check(expose == [env.get("METRICSD_LISTEN", ":").rsplit(":", 1)[1]],
          f"EXPOSE {expose} differs from METRICSD_LISTEN {env.get('METRICSD_LISTEN')}")
    check(is_loopback(env.get("METRICSD_LISTEN", "")) or env.get("METRICSD_WEB_CONFIG_FILE"),
          f"the image listens on {env.get('METRICSD_LISTEN')} without a web config: /metrics "
          "must fail closed")
    volumes = " ".join(i for i in runtime[1] if i.upper().startswith("VOLUME "))
    check(os.path.dirname(env.get("METRICSD_SOCKET", "")) in volumes,
          "the socket directory is not a VOLUME")
    return env, expose[0] if expose else None


def check_compose(src, image_env, port, binary):
    compose_dir = os.path.join(src, "docker")
    with open(os.path.join(compose_dir, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    services = compose.get("services", {})
    check(set(services) >= {"metricsd", "redis", "prometheus"}, f"services: {sorted(services)}")
    daemon = services.get("metricsd", {})
    build = daemon.get("build", {})
    context = os.path.normpath(os.path.join(compose_dir, build.get("context", ".")))
    check(os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))),
          "metricsd build.dockerfile does not exist in its context")
    known = documented_variables(src) | {"METRICSD_CONFIG"}
    env = dict(image_env, **daemon.get("environment", {}))
    for name in daemon.get("environment", {}):
        check(name in known, f"compose sets {name}, which is no documented setting")
    if env.get("METRICSD_BACKEND") == "redis":
        host = re.match(r"redis://([^:/]+)", env.get("METRICSD_REDIS_URL", ""))
        check(host and host.group(1) in services, "METRICSD_REDIS_URL names no compose service")
    declared = set(compose.get("volumes") or {})
    mounts = {}
    for name, service in services.items():
        for v in service.get("volumes", []):
            source, target = v.split(":")[:2]
            if source.startswith("."):
                check(os.path.exists(os.path.join(compose_dir, source)),
                      f"{name} mounts missing file {source}")
            else:
                check(source in declared, f"{name} mounts undeclared volume {source}")
            mounts.setdefault(name, {})[target] = source
    socket_dir = os.path.dirname(env.get("METRICSD_SOCKET", ""))
    check(socket_dir in mounts.get("metricsd", {}), f"{socket_dir} is not a volume in compose")
    web = None
    if not is_loopback(env.get("METRICSD_LISTEN", "")):
        web_path = env.get("METRICSD_WEB_CONFIG_FILE")
        check(web_path, f"compose serves {env.get('METRICSD_LISTEN')} without a web config")
        source = mounts.get("metricsd", {}).get(web_path or "")
        check(source and source.startswith("."), f"the web config {web_path} is not mounted")
        if source and source.startswith("."):
            web = os.path.join(compose_dir, source)
            with open(web) as f:
                doc = yaml.safe_load(f) or {}
            check(doc.get("basic_auth_users") or doc.get("tls_server_config"),
                  "the compose web config has neither basic_auth_users nor tls_server_config")
    ports = [p.rsplit(":", 1)[1] for p in daemon.get("ports", [])]
    check(ports == [port], f"compose publishes {ports}, the image exposes {port}")
    prom_file = mounts.get("prometheus", {}).get("/etc/prometheus/prometheus.yml")
    check(prom_file is not None, "prometheus.yml is not mounted into prometheus")
    if prom_file:
        with open(os.path.join(compose_dir, prom_file)) as f:
            prom = yaml.safe_load(f)
        targets = [t for job in prom["scrape_configs"] for sc in job["static_configs"]
                   for t in sc["targets"]]
        check(f"metricsd:{port}" in targets, f"prometheus scrapes {targets}, not metricsd:{port}")
        if web:
            job = next(j for j in prom["scrape_configs"]
                       if any(f"metricsd:{port}" in sc["targets"] for sc in j["static_configs"]))
            auth = job.get("basic_auth", {})
            secret = mounts.get("prometheus", {}).get(auth.get("password_file", ""))
            check(auth.get("username") and secret and secret.startswith("."),
                  "prometheus has no basic_auth with a mounted password_file for metricsd")
            if secret and secret.startswith("."):
                with open(os.path.join(compose_dir, secret)) as f:
                    password = f.read().strip()  # Prometheus trims the file as well
                check_web_auth(binary, web, auth.get("username"), password)


def is_loopback(listen):
    host = listen.rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "::1", "localhost")


def check_web_auth(binary, web_config, user, password):
    """Starts the real daemon with compose's web config: /metrics answers 401 without or with
    wrong credentials and 200 with the ones compose gives Prometheus; /healthz open as set."""
    import base64
    import socket
    import tempfile
    import time
    import urllib.error
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def status(path, credentials=None):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        if credentials:
            token = base64.b64encode(credentials.encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    with tempfile.TemporaryDirectory() as tmp:
        daemon = subprocess.Popen([binary, "--socket", os.path.join(tmp, "s.sock"),
                                   "--listen", f"127.0.0.1:{port}", "--log-level", "warn",
                                   "--web.config.file", web_config, "--web.healthz", "open"])
        try:
            for _ in range(200):
                if status("/healthz") == 200:
                    break
                time.sleep(0.05)
            check(status("/healthz") == 200, "/healthz is not open with compose's settings")
            check(status("/metrics") == 401, "/metrics answers without credentials")
            check(status("/metrics", f"{user}:wrong") == 401, "/metrics takes a wrong password")
            check(status("/metrics", f"{user}:{password}") == 200,
                  "/metrics refuses the credentials compose gives Prometheus")
        finally:
            daemon.terminate()
            daemon.wait(timeout=10)


def check_readme(src):
    readme = open(os.path.join(src, "docker/README.md")).read()
    dockerfile = open(os.path.join(src, "docker/Dockerfile")).read()
    compose = open(os.path.join(src, "docker/compose.yaml")).read()
    commands = re.findall(r"^\s*(docker (?:build|compose) .*)$", readme, re.M)
    check(commands, "docker/README.md shows no docker build/compose command")
    for cmd in commands:
        words = shlex.split(cmd)
        if "-f" in words:
            check(os.path.isfile(os.path.join(src, words[words.index("-f") + 1])),
                  f"README command uses a missing file: {cmd}")
        if words[1] == "build":
            check(cmd.strip() in dockerfile, f"README build command not in the Dockerfile: {cmd}")
        else:
            check(cmd.strip().split(" up")[0] in compose,
                  f"README compose command not in compose.yaml's header: {cmd}")
    check("no Docker engine" in readme, "README does not say what could not be tested")


def healthcheck(src, binary):
    """Runs the image's HEALTHCHECK command against a real daemon, and against nothing."""
    import json
    import socket
    import tempfile
    import time
    text = re.sub(r"\\\n", " ", open(os.path.join(src, "docker/Dockerfile")).read())
    cmd = json.loads(re.search(r"HEALTHCHECK .*?CMD (\[.*\])", text).group(1))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [c.replace("/9477", f"/{port}") for c in cmd]
    check(subprocess.run(cmd).returncode != 0, "HEALTHCHECK passes with no daemon running")
    with tempfile.TemporaryDirectory() as tmp:
        daemon = subprocess.Popen([binary, "--socket", os.path.join(tmp, "s.sock"),
                                   "--listen", f"127.0.0.1:{port}", "--log-level", "warn"])
        try:
            ok = False
            for _ in range(100):
                if subprocess.run(cmd).returncode == 0:
                    ok = True
                    break
                time.sleep(0.05)
            check(ok, "HEALTHCHECK fails against a running daemon")
        finally:
            daemon.terminate()
            daemon.wait(timeout=10)


def main():
    src, binary = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3 and sys.argv[3] == "--healthcheck":
        healthcheck(src, binary)
    else:
        env, port = check_dockerfile(src, binary)
        check_compose(src, env, port, binary)
        check_readme(src)
    for f in failures:
        print("FAIL:", f)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
