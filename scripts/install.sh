#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# make install / make uninstall (see the Makefile for the variables).
#
# install copies what the build made into DESTDIR + the directories given and
# writes the list of every file it installed to
# <gadgetdir>/installed-files (paths without DESTDIR).  uninstall removes
# exactly the files of that list, then the directories install created when
# they are empty, so it never touches anything it did not put there.
#
# Man pages and completion files are installed when the build has them:
# build/man/<name>.<section>[.gz] (at any depth) into <mandir>/man<section>/;
# under build/completion, files in bash/, zsh/ or fish/, or named
# <name>.bash (or <name> alone) for bash, <name>.zsh or _<name> for zsh,
# <name>.fish for fish.
set -euo pipefail

if [[ $# -ne 14 ]]; then
	echo "usage: $0 install|uninstall DESTDIR BUILD BINDIR LIBDIR INCLUDEDIR MANDIR DOCDIR" \
		"GADGETDIR BASHCOMPDIR ZSHCOMPDIR FISHCOMPDIR LIBIG_REAL LIBIG_SONAME" >&2
	exit 2
fi
verb=$1 dest=$2 build=$3 bindir=$4 libdir=$5 includedir=$6 mandir=$7 docdir=$8
gadgetdir=$9 bashdir=${10} zshdir=${11} fishdir=${12} real=${13} soname=${14}
manifest="$gadgetdir/installed-files"

for d in "$bindir" "$libdir" "$includedir" "$mandir" "$docdir" "$gadgetdir"; do
	if [[ "$d" != /* ]]; then
		echo "install: '$d' is not an absolute path" >&2
		exit 2
	fi
done

installed=()

# put SRC DST MODE: one file; DST is its path without DESTDIR
put() {
	install -D -m "$3" "$1" "$dest$2"
	installed+=("$2")
}

# link TARGET DST: a symbolic link
link() {
	mkdir -p "$(dirname "$dest$2")"
	ln -sfn "$1" "$dest$2"
	installed+=("$2")
}

do_install() {
	local f name sec

	for f in "$build"/bin/*; do
		[[ -f "$f" && -x "$f" ]] && put "$f" "$bindir/$(basename "$f")" 0755
	done

	put "$build/$real" "$libdir/$real" 0755
	link "$real" "$libdir/$soname"
	link "$soname" "$libdir/libig.so"
	put "$build/libig.a" "$libdir/libig.a" 0644
	put "$build/ig.pc" "$libdir/pkgconfig/ig.pc" 0644
	for f in include/ig/*.h; do
		put "$f" "$includedir/ig/$(basename "$f")" 0644
	done

	# the in-tree gadgets as images, where ig and libig look for short names
	if [[ -f build/oci-store/oci-layout ]]; then
		while IFS= read -r -d '' f; do
			put "$f" "$gadgetdir/oci-store/${f#build/oci-store/}" 0644
		done < <(find build/oci-store -type f ! -name '*.lock' ! -name '.*' -print0 | sort -z)
	fi

	# man pages: build/man/<name>.<section>[.gz], also in subdirectories (man1/...)
	if [[ -d "$build/man" ]]; then
		while IFS= read -r -d '' f; do
			name=$(basename "$f")
			sec=${name%.gz}
			sec=${sec##*.}
			put "$f" "$mandir/man$sec/$name" 0644
		done < <(find "$build/man" -type f \( -name '*.[1-8]' -o -name '*.[1-8].gz' \) -print0 |
			sort -z)
	fi
	# completion files: by their directory (bash/, zsh/, fish/) or their name
	if [[ -d "$build/completion" ]]; then
		while IFS= read -r -d '' f; do
			name=$(basename "$f")
			case "$(basename "$(dirname "$f")")/$name" in
			bash/* | bash-completion/*) put "$f" "$bashdir/${name%.bash}" 0644 ;;
			zsh/*) put "$f" "$zshdir/$name" 0644 ;;
			fish/*) put "$f" "$fishdir/$name" 0644 ;;
			*/*.zsh) put "$f" "$zshdir/_${name%.zsh}" 0644 ;;
			*/_*) put "$f" "$zshdir/$name" 0644 ;;
			*/*.fish) put "$f" "$fishdir/$name" 0644 ;;
			*/*.bash) put "$f" "$bashdir/${name%.bash}" 0644 ;;
			*/*.*) ;;
			*) put "$f" "$bashdir/$name" 0644 ;;
			esac
		done < <(find "$build/completion" -type f -print0 | sort -z)
	fi

	put README.md "$docdir/README.md" 0644
	for f in docs/*.md; do
		put "$f" "$docdir/$(basename "$f")" 0644
	done
	[[ -d examples ]] && for f in examples/*.c; do
		put "$f" "$docdir/examples/$(basename "$f")" 0644
	done

	installed+=("$manifest")
	mkdir -p "$(dirname "$dest$manifest")"
	printf '%s\n' "${installed[@]}" > "$dest$manifest"
	# a real install: the dynamic linker learns of the new libig.so.0
	if [[ -z "$dest" && $(id -u) -eq 0 ]] && command -v ldconfig >/dev/null; then
		ldconfig || true
	fi
	echo "installed ${#installed[@]} files under ${dest:-/} (list: $manifest)"
}

do_uninstall() {
	local f n=0 d

	if [[ ! -f "$dest$manifest" ]]; then
		echo "uninstall: nothing to do: $dest$manifest is missing" >&2
		return 0
	fi
	while IFS= read -r f; do
		[[ "$f" == /* ]] || continue
		if [[ -e "$dest$f" || -L "$dest$f" ]]; then
			rm -f "$dest$f"
			n=$((n + 1))
		fi
	done < "$dest$manifest"
	# directories install made, deepest first, when nothing else is in them
	for d in "$gadgetdir/oci-store" "$gadgetdir" "$includedir/ig" "$docdir/examples" "$docdir"; do
		[[ -d "$dest$d" ]] && find "$dest$d" -depth -type d -empty -delete
	done
	if [[ -z "$dest" && $(id -u) -eq 0 ]] && command -v ldconfig >/dev/null; then
		ldconfig || true
	fi
	echo "removed $n files from ${dest:-/}"
}

case "$verb" in
install) do_install ;;
uninstall) do_uninstall ;;
*)
	echo "install.sh: unknown verb '$verb'" >&2
	exit 2
	;;
esac
