"""The service root layout: every file the target service reads, relative to its root.

The root is a temp dir on the local backend and "/" in a container. The app (app*.py) reads these
files and the faults (faults*.py) write them, so both import the paths from here. supervisor.py
and openhands_driver/targetctl.py run standalone and keep their own copies of the few they use.
"""

# The service itself: config, settings, lock, readiness, pid and log.
SERVICE_JSON = "etc/service.json"             # service, instance, listen_host, listen_port
SERVICE_ENV = "etc/service.env"               # KEY=VALUE settings, read at service start
SERVICE_ENV_EXAMPLE = "etc/service.env.example"
LOCK_FILE = "var/lock/service.lock"           # pid of the instance holding the lock
READY_FLAG = "var/run/ready"                  # readiness: present = ready
APP_PID = "var/run/app.pid"
LOG_FILE = "var/log/service.log"
INJECTED_MARKER = "var/lib/provisioned"       # written once the root is provisioned
LAYOUT_DIRS = ("etc", "var/lock", "var/log", "var/lib", "var/run")
# What a snapshot (collateral check) covers, and what it leaves out as volatile.
SNAPSHOT_DIRS = ("etc", "var/lib", "var/lock", "var/spool", "opt", "srv")
VOLATILE = ("var/log/", "var/run/", "__pycache__/", "var/lib/dpkg/", "var/lib/apt/", "etc/ld.so.cache")

# Per-request disruptions (read by the app on every request).
FLAGS_FILE = "etc/flags.json"                 # flagd-format feature flags
CHAOS_DIR = "etc/chaos"                       # Chaos Mesh-style Schedules, applied while present

# The workload (read by the supervisor before it starts the app).
DEPLOYMENT_JSON = "etc/deployment.json"       # {"replicas": N}
RELEASE_JSON = "etc/release.json"             # current release + rollout history
RELEASES_DIR = "opt/releases"                 # <release>/manifest.json per installed release
ENTRYPOINT = "etc/entrypoint.sh"              # start command the supervisor runs
ENTRYPOINT_DEFAULT = "etc/entrypoint.sh.default"
LIMITS_JSON = "etc/limits.json"               # {"memory_mb": N}, enforced at app start
LIMITS_DEFAULT = "etc/limits.json.default"

# The database dependency (checked by the app at start).
SECRET_FILE = "etc/secrets/db_password"       # credential the app presents to the database
VAULT_SECRET = "var/lib/vault/db_password"    # source of truth for that credential
DB_AUTH = "var/lib/db/auth"                   # what the (simulated) database accepts:
                                              # user:salt:sha256 of "salt/password"
RESOLV_CONF = "etc/dns/resolv.conf"           # resolver for outgoing connections, read at start
RESOLV_DEFAULT = "etc/dns/resolv.conf.default"
DNS_DATA_DIR = "var/lib/dns"                  # <nameserver>.hosts = what that nameserver answers
