# Sourced by the build/*-mingw.sh scripts: Debian's own source of a library, fetched without
# touching the system's apt setup.
#
# debian_source DEPS PACKAGE TAR_GLOB WORK: fetches the source package PACKAGE with a private
# apt configuration under DEPS/apt (deb-src twins of the system's Debian sources), then
# unpacks its original tarball (the file in DEPS/apt/src matching TAR_GLOB) into WORK,
# emptied first. A lock keeps two builds (make -j) from updating the private lists at once.
debian_source() {
    local deps=$1 package=$2 tar_glob=$3 work=$4
    local apt_dir="$deps/apt"
    mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/src" \
        "$apt_dir/cache/archives/partial"
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt_dir/sources/$(basename "$f")"
    done
    if [ -f /etc/apt/sources.list ]; then
        grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
            >"$apt_dir/sources/legacy.list" || true
    fi
    local apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources"
        -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
        -o APT::Get::List-Cleanup=0)
    (
        flock 9
        apt-get "${apt_opts[@]}" -qq update
        cd "$apt_dir/src" && apt-get "${apt_opts[@]}" -qq source --download-only "$package"
    ) 9>"$apt_dir/lock"
    local src_tar
    src_tar=$(ls "$apt_dir"/src/$tar_glob 2>/dev/null | head -n 1)
    if [ -z "$src_tar" ]; then
        echo "debian_source: no $tar_glob in $apt_dir/src after fetching $package" >&2
        return 1
    fi
    rm -rf "$work" && mkdir -p "$work"
    tar -xf "$src_tar" -C "$work" --strip-components=1
    DEBIAN_SOURCE_TAR=$src_tar
}
