#!/usr/bin/env bash
# lint.sh - make lint: formatting (.clang-format) and the banned functions
# of ../shared/STYLE.md §19. A line may opt out with "lint: allow".
set -u
cd "$(dirname "$0")/.."
rc=0
files=$(git ls-files -co --exclude-standard 'lib/*.[ch]' 'handlers/*.c' 'tests/unit/*.c' 'tests/fuzz/*.c' 'bench/*.c')

if ! clang-format --dry-run --Werror $files 2>/tmp/lint.$$; then
	head -40 /tmp/lint.$$
	echo "lint: formatting differs from .clang-format (run: make format)"
	rc=1
fi
rm -f /tmp/lint.$$

banned='\<(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|gets|atoi|atol|strtol|strtoul|strtoll|sscanf)[[:space:]]*\('
if grep -nE "$banned" $files | grep -v 'lint: allow'; then
	echo "lint: banned function (use snprintf, num_parse, memchr...)"
	rc=1
fi
alloc='\<(malloc|calloc|realloc|free)[[:space:]]*\('
if grep -nE "$alloc" $(echo "$files" | grep -v -e '^lib/mem.c$' -e '^tests/mock/' -e '^bench/') | grep -v 'lint: allow'; then
	echo "lint: allocate through lib/mem.c (mem_malloc, mem_free...)"
	rc=1
fi
# The runtime layer (the loop, FastCGI, upstream, memcached) includes only
# the ground floor and itself (egress: a transfer's proxy options), never
# the application above it (config, keys, proxy, metrics...): redis's ae.c
# knows nothing of the server.
ground='compiler|err|mem|buf|num|log|limits'
runtime='loop|fcgi_rec|fcgi_loop|fcgi_io|upstream|kv|egress'
for f in lib/{loop,fcgi_rec,fcgi_loop,fcgi_io,upstream,kv,egress}.[ch]; do
	if grep -nE '^#include "' "$f" | grep -vE "#include \"($ground|$runtime)\.h\"" | grep -v 'lint: allow'; then
		echo "lint: $f (the runtime layer) includes a header above it"
		rc=1
	fi
done
[ $rc = 0 ] && echo "lint: ok"
exit $rc
