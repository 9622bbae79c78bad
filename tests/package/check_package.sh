#!/bin/sh
# check_package.sh CMAKE BUILD_DIR WORK_DIR NM CC CXX SOURCE_DIR [CC_FLAG...]
# The installed package as a user meets it (issue 11). Installs BUILD_DIR into WORK_DIR/prefix
# (emptied first), then:
#   1. nm: the installed libtessera.so's dynamic table and libtessera.a define only tsr_ symbols
#      and export every public function (check_symbols.sh);
#   2. the headers compile alone under -std=c11 -pedantic -Werror (CC) and as C++ (CXX, when one
#      is installed: else said and skipped);
#   3. README.md's "Use from C" snippets (the blocks after "<!-- tests/package: FILE -->"):
#      app.c built and run with the pkg-config commands (shared, and static from the archive) and
#      with the CMakeLists.txt (find_package(tessera): tessera::tessera, tessera::tessera_static),
#      each against the installed prefix only, from outside the source tree; every program must
#      print PyTorch's top-1 classes of the first eight test images ("7 6 3 7 7 3 2 8", from
#      models/digits_test_logits.npy) and the static ones must not need libtessera.so;
#   4. the version: find_package(tessera 99) is refused, tessera --version prints the version of
#      tessera.pc, the installed `tessera run` finds its bundled model under the prefix and the
#      installed `tessera bench` its peer script (bench_peers.py);
#   5. add_subdirectory: tests/package/parent, a project that add_subdirectory()s the source tree
#      and links tessera::tessera and tessera::tessera_static, configures and generates.
# CC_FLAGs: the sanitizer flags of a sanitizer build (the programs link the instrumented library).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmake=$1 build=$2 work=$3 nm=$4 cc=$5 cxx=$6 src=$7
shift 7
flags="$*"
want="classes: 7 6 3 7 7 3 2 8"
prefix=$work/prefix
fail() {
    echo "check_package: $*" >&2
    exit 1
}

rm -rf "$work"
mkdir -p "$work"
"$cmake" --install "$build" --prefix "$prefix" >"$work/install.log" || fail "cmake --install failed"
for f in include/tessera.h lib/libtessera.so.0 lib/libtessera.a lib/pkgconfig/tessera.pc \
    lib/cmake/tessera/tesseraConfig.cmake lib/cmake/tessera/tesseraConfigVersion.cmake \
    lib/cmake/tessera/tesseraTargets.cmake bin/tessera share/tessera/models/digits.onnx \
    share/doc/tessera/LICENSE; do
    [ -e "$prefix/$f" ] || fail "not installed: $prefix/$f"
done

echo "== 1. symbols"
"$here/../boundary/check_symbols.sh" "$nm" "$prefix/include" "$prefix/lib/libtessera.so" \
    "$prefix/lib/libtessera.a" || fail "installed libraries export more than the tsr_ API"

echo "== 2. headers"
for h in tessera.h tessera/sched.h tessera/cpu.h tessera/batcher.h; do
    printf '#include <%s>\nint main(void) { return 0; }\n' "$h" >"$work/h.c"
    "$cc" -std=c11 -pedantic -Werror -Wall -Wextra -I"$prefix/include" -c "$work/h.c" \
        -o "$work/h.o" || fail "<$h> does not compile with $cc -std=c11 -pedantic -Werror"
    if command -v "$cxx" >/dev/null 2>&1; then
        cp "$work/h.c" "$work/h.cpp"
        "$cxx" -std=c++11 -pedantic -Werror -Wall -Wextra -I"$prefix/include" -c "$work/h.cpp" \
            -o "$work/h.o" || fail "<$h> does not compile as C++ ($cxx -std=c++11 -pedantic)"
    else
        echo "no C++ compiler ($cxx): the C++ check is skipped"
    fi
done
echo "headers compile as C11 -pedantic${cxx:+ and as C++}"

echo "== 3. README snippets"
snippet() { # snippet FILE: the fenced block after <!-- tests/package: FILE --> in README.md
    awk -v f="$1" '
        $0 == "<!-- tests/package: " f " -->" { want = 1; next }
        want && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }' "$src/README.md"
}
app=$work/app
mkdir -p "$app"
for f in app.c pkg-config.sh CMakeLists.txt; do
    snippet "$f" >"$app/$f"
    [ -s "$app/$f" ] || fail "README.md has no snippet for $f"
done
check_output() { # check_output LABEL OUTPUT
    printf '%s\n' "$2" | grep -qx "$want" || fail "$1 printed '$2', want '$want'"
    printf '%s\n' "$2" | grep -q "^tessera [0-9.]*: logits \[360, 10\] float32$" ||
        fail "$1 printed '$2': no 'tessera VERSION: logits [360, 10] float32' line"
    echo "$1: ok"
}
no_shared() { # no_shared LABEL PROGRAM: a static build must not need libtessera.so
    if readelf -d "$2" | grep -q 'NEEDED.*libtessera'; then fail "$1 needs libtessera.so"; fi
}
data=$prefix/share/tessera/models
(
    cd "$app"
    export PREFIX="$prefix" CFLAGS="$flags"
    # The snippet's cc lines, with the sanitizer flags of a sanitizer build.
    sed "s|^cc |cc $flags |" pkg-config.sh | sed "s|^cc |$cc |" >pkg-config-run.sh
    sh -e pkg-config-run.sh >pkg-config.out 2>&1 || { cat pkg-config.out; exit 1; }
) || fail "the README's pkg-config commands failed"
check_output "pkg-config, shared" "$(cat "$app/pkg-config.out")"
readelf -d "$app/app" | grep -q 'NEEDED.*libtessera.so.0' || fail "app does not need libtessera.so.0"
no_shared "pkg-config, static" "$app/app_static"
check_output "pkg-config, static" "$("$app/app_static" "$data/digits.onnx" "$data/digits_test_x.npy")"

"$cmake" -S "$app" -B "$app/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_BUILD_TYPE=Release >"$app/cmake.log" 2>&1 ||
    { cat "$app/cmake.log"; fail "find_package(tessera) project does not configure"; }
"$cmake" --build "$app/build" >>"$app/cmake.log" 2>&1 ||
    { cat "$app/cmake.log"; fail "find_package(tessera) project does not build"; }
check_output "find_package, tessera::tessera" \
    "$("$app/build/app" "$data/digits.onnx" "$data/digits_test_x.npy")"
no_shared "find_package, tessera::tessera_static" "$app/build/app_static"
check_output "find_package, tessera::tessera_static" \
    "$("$app/build/app_static" "$data/digits.onnx" "$data/digits_test_x.npy")"

echo "== 4. version"
version=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion tessera)
mkdir -p "$work/too_new"
cat >"$work/too_new/CMakeLists.txt" <<EOT
cmake_minimum_required(VERSION 3.20)
project(too_new LANGUAGES C)
find_package(tessera 99 REQUIRED)
EOT
if "$cmake" -S "$work/too_new" -B "$work/too_new/build" -DCMAKE_PREFIX_PATH="$prefix" \
    >"$work/too_new.log" 2>&1; then
    fail "find_package(tessera 99) accepted version $version"
fi
got=$("$prefix/bin/tessera" --version)
[ "$got" = "tessera $version" ] || fail "tessera --version printed '$got', want 'tessera $version'"
echo "tessera --version: $got"
out=$(cd / && env -u TSR_MODELS_DIR "$prefix/bin/tessera" run --repeat 1 --device cpu 2>&1) ||
    fail "installed tessera run failed: $out"
printf '%s\n' "$out" | grep -q "^model: $prefix/bin/../share/tessera/models/digits.onnx" ||
    fail "installed tessera run did not use the installed model: $out"
echo "installed tessera run: uses $data"
helper=$prefix/bin/../share/tessera/bench/bench_peers.py
[ -r "$helper" ] || fail "not installed: $helper"
out=$(cd / && env -u TSR_BENCH_HELPER "$prefix/bin/tessera" bench --help 2>&1) ||
    fail "installed tessera bench --help failed: $out"
printf '%s\n' "$out" | grep -qF "Peer script: $helper " ||
    fail "installed tessera bench does not use the installed peer script: $out"
echo "installed tessera bench: peer script $helper"

echo "== 5. add_subdirectory"
"$cmake" -S "$here/parent" -B "$work/parent" -DTESSERA_SOURCE_DIR="$src" \
    -DCMAKE_C_COMPILER="$cc" >"$work/parent.log" 2>&1 ||
    { cat "$work/parent.log"; fail "add_subdirectory(tessera) does not configure"; }
echo "add_subdirectory(tessera): configures and generates"
echo "check_package: all passed"
