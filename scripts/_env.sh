# Shared by the scripts: find Python 3.13 and keep the project's virtual environment current.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EAIO_VENV:-$ROOT/.venv}"

find_python313() {
    local candidate
    for candidate in python3.13 "$(command -v python3 || true)"; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in "$(pyenv root)"/versions/3.13.*/bin/python3.13; do
            if [ -x "$candidate" ]; then
                echo "$candidate"
                return 0
            fi
        done
    fi
    echo "error: Python 3.13 not found. Home Assistant's test harness needs it." >&2
    echo "       Install it (e.g. 'pyenv install 3.13') or put python3.13 on PATH." >&2
    return 1
}

ADDON_VENV="${EAIO_ADDON_VENV:-$ROOT/.venv-addon}"

# ensure_venv REQUIREMENTS_FILE...: the Home Assistant side's venv ($VENV).
ensure_venv() {
    ensure_venv_at "$VENV" "$@"
}

# ensure_venv_at DIR REQUIREMENTS_FILE...: create the venv and (re)install when the files change.
# The add-on gets its own venv: its dependencies conflict with Home Assistant's pins.
ensure_venv_at() {
    local VENV="$1" python stamp want
    shift
    if [ ! -x "$VENV/bin/python" ]; then
        python="$(find_python313)" || return 1
        echo "Creating virtual environment $VENV with $python"
        "$python" -m venv "$VENV" || return 1
    fi
    stamp="$VENV/.eaio-requirements"
    want="$(cd "$ROOT" && cat "$@" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "Installing $* into $VENV (first run: minutes, see the README)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip || return 1
        (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet $(printf -- '-r %s ' "$@")) || return 1
        echo "$want" > "$stamp"
    fi
}

# The integration's second Home Assistant: the newest release that runs on Python 3.13 here.
HA2026_VERSION="2026.2.3"
HA2026_VENV="${EAIO_HA2026_VENV:-$ROOT/.venv-ha2026}"

# ha_wheel DIR VERSION: the path of Home Assistant VERSION's wheel, downloaded once into DIR/wheels.
# --ignore-requires-python: 2026.x asks for a newer patch release (or minor) than Python 3.13.0.
ha_wheel() {
    local dir="$1" version="$2" wheel
    wheel="$(ls "$dir"/wheels/homeassistant-"$version"-*.whl 2>/dev/null | head -n1)"
    if [ -z "$wheel" ]; then
        mkdir -p "$dir/wheels"
        "$dir/bin/python" -m pip download --quiet --no-deps --ignore-requires-python \
            -d "$dir/wheels" "homeassistant==$version" >&2 || return 1
        wheel="$(ls "$dir"/wheels/homeassistant-"$version"-*.whl | head -n1)"
    fi
    echo "$wheel"
}

# ensure_ha_venv_at DIR HA_VERSION REQUIREMENTS_FILE...: a venv installed the way Home Assistant
# HA_VERSION installs integrations: under the package_constraints.txt in that release's wheel.
# Without them pip backtracks for many minutes over old bluetooth packages.
ensure_ha_venv_at() {
    local dir="$1" version="$2" python stamp want wheel
    shift 2
    if [ ! -x "$dir/bin/python" ]; then
        python="$(find_python313)" || return 1
        echo "Creating virtual environment $dir with $python"
        "$python" -m venv "$dir" || return 1
    fi
    stamp="$dir/.eaio-requirements"
    want="$( (echo "$version"; cd "$ROOT" && cat "$@") | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "Installing Home Assistant $version and $* into $dir (first run: about a minute)"
        "$dir/bin/python" -m pip install --quiet --upgrade pip || return 1
        wheel="$(ha_wheel "$dir" "$version")" || return 1
        "$dir/bin/python" -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(
            "homeassistant/package_constraints.txt").decode())' "$wheel" > "$dir/ha-constraints.txt" || return 1
        (cd "$ROOT" && "$dir/bin/python" -m pip install --quiet --ignore-requires-python \
            -c "$dir/ha-constraints.txt" "$wheel" $(printf -- '-r %s ' "$@")) || return 1
        echo "$want" > "$stamp"
    fi
}

# The MQTT tests and demo run a real broker: Debian's mosquitto.
ensure_mosquitto() {
    if command -v mosquitto >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1; then
        return 0
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if command -v apt-get >/dev/null 2>&1; then
        echo "Installing mosquitto (MQTT broker for the tests)"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq mosquitto mosquitto-clients >/dev/null && return 0
    fi
    echo "error: mosquitto and mosquitto_pub are needed; install Debian's mosquitto and mosquitto-clients." >&2
    return 1
}

# The ingress page's test loads it in a real browser: headless Chromium (Debian's chromium).
ensure_chromium() {
    local name
    for name in chromium chromium-browser google-chrome chrome; do
        command -v "$name" >/dev/null 2>&1 && return 0
    done
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if command -v apt-get >/dev/null 2>&1; then
        echo "Installing chromium (headless browser for the ingress page's test)"
        $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null && return 0
    fi
    echo "error: a Chromium binary is needed for the ingress page's test; install Debian's chromium." >&2
    return 1
}
