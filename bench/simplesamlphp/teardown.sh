#!/usr/bin/env bash
# Undoes bench/simplesamlphp/setup.sh (performance.md §4.7): stops Apache, puts back the files
# saved in PEER_DIR/orig, removes the files that did not exist before, disables the
# simplesamlphp Apache configuration if setup enabled it, and deletes what setup wrote into
# PEER_DIR (the peer's keys included). The installed packages stay.
#
#   bench/simplesamlphp/teardown.sh PEER_DIR
set -euo pipefail

die() {
    echo "teardown.sh: $*" >&2
    exit 1
}

(($# == 1)) || die "usage: teardown.sh PEER_DIR"
[[ $(id -u) -eq 0 ]] || die "run as root"
PEER_DIR=$(cd "$1" && pwd)
ORIG="$PEER_DIR/orig"
[[ -f "$ORIG/.complete" ]] || die "$ORIG holds no complete set of originals from setup.sh"

if pgrep -x apache2 >/dev/null; then
    apachectl stop
fi

# Every saved file goes back to the path it was copied from.
while IFS= read -r -d '' saved; do
    target=${saved#"$ORIG"}
    cp -a "$saved" "$target"
    echo "Restored $target"
done < <(find "$ORIG" -type f ! -name .complete ! -name absent ! -name conf-enabled -print0)

while IFS= read -r created; do
    [[ -n $created ]] || continue
    rm -f "$created"
    echo "Removed $created"
done <"$ORIG/absent"

if [[ $(cat "$ORIG/conf-enabled") == no ]]; then
    a2disconf -q simplesamlphp >/dev/null
    echo "Disabled the simplesamlphp Apache configuration"
fi

# Only what setup.sh created is deleted, so a mistyped PEER_DIR cannot take other files along.
rm -rf "$ORIG" "$PEER_DIR/cert"
rm -f "$PEER_DIR/alice.argon2id" "$PEER_DIR"/smoke*
rmdir "$PEER_DIR" 2>/dev/null || echo "Left $PEER_DIR in place: it holds other files"
echo "Peer removed"
