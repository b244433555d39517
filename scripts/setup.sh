#!/usr/bin/env bash
# Set-up for `make`: installs what the build and the tests need and is missing, cheaply when
# nothing is. `setup.sh` installs; `setup.sh --check` only checks and names what is missing
# (the guard `make test` runs after set-up).
#
# - Debian packages: cmake, a C compiler and libclang (unicorn's C build and its bindings).
#   Installed with apt-get as root; otherwise the command to run is printed.
# - Rust: the toolchain pinned in rust-toolchain.toml with every target and component the
#   file lists. rustup installs a toolchain file's targets only when it installs the toolchain
#   itself, so a machine that already has the toolchain gets them added here.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0
[ "${1:-}" = "--check" ] && check_only=1
file=rust-toolchain.toml

# The value of `key = "..."` or the items of `key = [ ... ]` (one line or several) in the
# [toolchain] table of $file, one per line.
toml_list() {
    awk -v key="$1" '
        /^\[/ { in_tc = ($0 ~ /^\[toolchain\]/) }
        in_tc && !open && $0 ~ "^[ \t]*" key "[ \t]*=" { open = 1; sub(/^[^=]*=/, "") }
        open {
            line = $0; sub(/#.*/, "", line)
            n = split(line, parts, "\"")
            for (i = 2; i <= n; i += 2) print parts[i]
            if (line !~ /\[/ || line ~ /\]/) open = 0
        }
    ' "$file"
}

# --- Debian packages -------------------------------------------------------------------
# command or file that shows the package is there, then the package.
packages=(
    "cmake:cmake"
    "cc:gcc"
    "lib:libclang-dev"
)
missing_pkgs=()
for entry in "${packages[@]}"; do
    probe=${entry%%:*} pkg=${entry#*:}
    if [ "$probe" = lib ]; then
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing_pkgs+=("$pkg")
    else
        command -v "$probe" >/dev/null 2>&1 || missing_pkgs+=("$pkg")
    fi
done
if [ ${#missing_pkgs[@]} -gt 0 ]; then
    if [ $check_only = 1 ]; then
        echo "setup check: missing Debian packages: ${missing_pkgs[*]}" >&2
        echo "run: apt-get install -y ${missing_pkgs[*]}" >&2
        exit 1
    elif [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian packages: ${missing_pkgs[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_pkgs[@]}"
    else
        echo "setup: missing Debian packages: ${missing_pkgs[*]}" >&2
        echo "run: sudo apt-get install -y ${missing_pkgs[*]}" >&2
        exit 1
    fi
fi

# --- Rust --------------------------------------------------------------------------------
if ! command -v rustup >/dev/null 2>&1; then
    echo "setup: rustup not found; install it (https://rustup.rs), then run make again" >&2
    exit 1
fi
channel=$(toml_list channel)
[ -n "$channel" ] || { echo "setup: $file names no channel" >&2; exit 1; }
mapfile -t targets < <(toml_list targets)
mapfile -t components < <(toml_list components)

if ! rustup toolchain list | grep -q "^$channel"; then
    if [ $check_only = 1 ]; then
        echo "setup check: toolchain $channel is not installed; run: rustup toolchain install $channel" >&2
        exit 1
    fi
    echo "setup: installing the Rust toolchain $channel (from $file)"
    rustup toolchain install "$channel" --profile minimal
fi

# rustup prints installed components with the host triple (clippy-x86_64-...), targets as
# rust-std-<target>.
installed=$(rustup component list --installed --toolchain "$channel")
host=$(rustc +"$channel" -vV | sed -n 's/^host: //p')
missing_targets=()
for t in "${targets[@]}"; do
    grep -qx "rust-std-$t" <<<"$installed" || missing_targets+=("$t")
done
missing_components=()
for c in "${components[@]}"; do
    grep -qx "$c-$host" <<<"$installed" || grep -qx "$c" <<<"$installed" || missing_components+=("$c")
done

if [ $check_only = 1 ]; then
    status=0
    for t in "${missing_targets[@]}"; do
        echo "setup check: target $t (listed in $file) is not installed for $channel; run: rustup target add --toolchain $channel $t" >&2
        status=1
    done
    for c in "${missing_components[@]}"; do
        echo "setup check: component $c (listed in $file) is not installed for $channel; run: rustup component add --toolchain $channel $c" >&2
        status=1
    done
    [ $status = 0 ] && echo "setup check: toolchain $channel with targets [${targets[*]}] and components [${components[*]}]"
    exit $status
fi
if [ ${#missing_targets[@]} -gt 0 ]; then
    echo "setup: adding Rust targets to $channel (from $file): ${missing_targets[*]}"
    rustup target add --toolchain "$channel" "${missing_targets[@]}"
fi
if [ ${#missing_components[@]} -gt 0 ]; then
    echo "setup: adding Rust components to $channel (from $file): ${missing_components[*]}"
    rustup component add --toolchain "$channel" "${missing_components[@]}"
fi
