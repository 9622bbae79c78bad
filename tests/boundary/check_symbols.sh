#!/bin/sh
# check_symbols.sh NM INCLUDE_DIR LIBRARY... — the public boundary of the built/installed libraries.
# Fails (listing the offenders) if a library defines a global symbol that is not tsr_*: for an
# archive `nm -g --defined-only`, for a shared library its dynamic table `nm -D --defined-only`.
# Also fails if a function declared in a header under INCLUDE_DIR is not exported (a definition
# whose file does not include the header would silently be hidden by -fvisibility=hidden).
set -eu
nm=$1
include_dir=$2
shift 2

# Function declarations of the public headers: lines that start with a return type, first
# tsr_name( on the line.
declared=$(find "$include_dir" -name '*.h' -exec grep -hE '^[A-Za-z_][^#]*\<tsr_[a-z0-9_]+\(' {} + |
           sed -E 's/^[^(]*\<(tsr_[a-z0-9_]+)\(.*/\1/' | sort -u)
if [ -z "$declared" ]; then
    echo "no tsr_ function declarations found under $include_dir"
    exit 1
fi

status=0
for lib in "$@"; do
    case $lib in
    *.a) flags="-g --defined-only" ;;
    *) flags="-D --defined-only" ;;
    esac
    # shellcheck disable=SC2086 # flags is a list of options
    if ! out=$("$nm" $flags "$lib"); then
        echo "$lib: $nm failed"
        status=1
        continue
    fi
    defined=$(printf '%s\n' "$out" | awk 'NF == 3 { print $3 }' | sort -u)
    bad=$(printf '%s\n' "$defined" | grep -v -e '^tsr_' -e '^$' || true)
    missing=$(printf '%s\n' "$declared" | while read -r f; do
        printf '%s\n' "$defined" | grep -qx "$f" || echo "$f"
    done)
    n=$(printf '%s\n' "$defined" | grep -c . || true)
    if [ -n "$bad" ]; then
        echo "$lib: $(printf '%s\n' "$bad" | wc -l) defined global symbols outside tsr_:"
        printf '%s\n' "$bad" | sed 's/^/    /'
        status=1
    fi
    if [ -n "$missing" ]; then
        echo "$lib: declared in $include_dir but not exported:"
        printf '%s\n' "$missing" | sed 's/^/    /'
        status=1
    fi
    if [ -z "$bad" ] && [ -z "$missing" ]; then
        echo "$lib: $n defined global symbols, all tsr_, every public function exported"
    fi
done
exit $status
