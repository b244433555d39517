#!/usr/bin/env bash
# Builds every guest image of this workspace for its core's thumb target.
#
#   firmware/build.sh [OUT_DIR]    with OUT_DIR, copies each ELF there as NAME.elf
#
# crates/wb-firmware/build.rs runs it (with its OUT_DIR) and embeds the ELFs; `make` runs it
# first, without OUT_DIR, so that cargo's progress shows while the firmware builds (the host
# build then finds it up to date).
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-}
cargo=${CARGO:-cargo}
rustc=${RUSTC:-rustc}

# package         target                 features  name
images=(
    "cpu1-tests     thumbv7em-none-eabihf  -         cpu1-tests"
    "cpu2-tests     thumbv6m-none-eabi     -         cpu2-tests"
    "boot-counter   thumbv7em-none-eabihf  -         boot-counter"
    "fus            thumbv6m-none-eabi     -         fus"
    "safeboot       thumbv6m-none-eabi     -         safeboot"
    # Test-only: a FUS with a deliberate bug, which campaigns must catch.
    "fus            thumbv6m-none-eabi     broken-resume fus-broken-resume"
    "operator       thumbv7em-none-eabihf  -         operator"
    # The sample wireless stack in two versions of different sizes and places.
    "wireless-stack thumbv6m-none-eabi     -         ws-1.0.0"
    "wireless-stack thumbv6m-none-eabi     v1_1      ws-1.1.0"
)

# The outer build's flags are for the host, not for the thumb targets; nor does a lint
# driver (cargo clippy) wrapping the outer rustc apply to them.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER \
    CLIPPY_ARGS CARGO_BUILD_TARGET

# A missing target fails deep inside rustc ("can't find crate for `core`"): say what to run.
sysroot=$("$rustc" --print sysroot)
toolchain=${RUSTUP_TOOLCHAIN:-$(rustup show active-toolchain 2>/dev/null | cut -d' ' -f1)}
for line in "${images[@]}"; do
    read -r _ target _ <<<"$line"
    if [ ! -d "$sysroot/lib/rustlib/$target/lib" ]; then
        echo "error: the Rust target $target is not installed for the toolchain $toolchain" >&2
        echo "run: rustup target add --toolchain $toolchain $target   (or: make setup)" >&2
        exit 1
    fi
done

n=${#images[@]} i=0
for line in "${images[@]}"; do
    read -r package target features name <<<"$line"
    i=$((i + 1))
    echo "firmware [$i/$n] $name ($package for $target)" >&2
    args=(build --release --locked -p "$package" --target "$target" --target-dir target)
    [ "$features" != - ] && args+=(--features "$features")
    "$cargo" "${args[@]}"
    [ -n "$out" ] && cp "target/$target/release/$package" "$out/$name.elf"
done
exit 0
