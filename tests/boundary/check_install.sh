#!/bin/sh
# check_install.sh CMAKE BUILD_DIR PREFIX NM CC ONNX_FILE [CC_FLAG...]
# Installs the build tree into PREFIX (emptied first), checks the installed header and both
# libraries are there and export only tsr_ symbols (check_symbols.sh), then builds public_api.c as
# an external program would — plain cc, only PREFIX/include and -ltessera from PREFIX/lib (the
# shared library) — and runs it. CC_FLAGs: the sanitizer flags of a sanitizer build.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmake=$1 build=$2 prefix=$3 nm=$4 cc=$5 onnx=$6
shift 6

rm -rf "$prefix"
"$cmake" --install "$build" --prefix "$prefix" >/dev/null
for f in include/tessera.h lib/libtessera.a lib/libtessera.so lib/libtessera.so.0; do
    if [ ! -e "$prefix/$f" ]; then
        echo "not installed: $prefix/$f"
        exit 1
    fi
done
"$here/check_symbols.sh" "$nm" "$prefix/include" "$prefix/lib/libtessera.a" "$prefix/lib/libtessera.so"

"$cc" -std=c11 -Wall -Wextra -Werror "$@" -I"$prefix/include" "$here/public_api.c" \
    -L"$prefix/lib" -ltessera -Wl,-rpath,"$prefix/lib" -o "$prefix/public_api"
"$prefix/public_api" "$onnx"
