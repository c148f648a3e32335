#!/bin/sh
# man.sh OUTDIR: builds the manual pages from their Markdown sources.
#
#   docs/NAME.SECTION.md  ->  OUTDIR/NAME.SECTION     (SECTION 1-8)
#
# e.g. docs/procket.8.md -> OUTDIR/procket.8, docs/procket.conf.5.md ->
# OUTDIR/procket.conf.5. The Markdown stays the source; it is written to
# be read as it is, and converted here with lowdown(1) (`lowdown -s -Tman`).
#
# What a source must look like:
#   - its first line is the title, exactly `# NAME(SECTION)` as in its file
#     name; it is not part of the page (the page header carries it);
#   - the page's sections are `##` headings (`## NAME`, `## SYNOPSIS`,
#     `## DESCRIPTION`, ...), subsections `###` (lowdown is told to shift
#     headings up one level: `##` becomes .SH, `###` .SS);
#   - `## NAME` holds one line, `name[, name...] - description`, which is
#     what whatis(1) and apropos(1) index;
#   - the SYNOPSIS is an indented (preformatted) block;
#   - options are definition lists: a line with the term, then the
#     definition on lines starting with `:   `.
#
# lowdown runs with --parse-no-intraemph (no_new_privs is a word, as
# Markdown viewers show it, not "no" and "privs" around an emphasis),
# --parse-no-super and --parse-no-metadata (the header comes from -M).
#
# The page header (.TH) is made from the file name (NAME in capitals, the
# section), the date (SOURCE_DATE_EPOCH if set, else the source's
# modification time) and the source `procket VERSION` (the VERSION file).
#
# lowdown's output is changed only where it is not clean man(7) for
# mandoc(1) and groff(1) alike (scripts/check-man.sh lints the result):
#   1. `\fC` (constant width, for `code`) is not a font mandoc knows
#      ("invalid escape sequence"): literal text is set in bold, as manual
#      pages do, and not hyphenated (`\%`): a function or option name
#      split over two lines reads as two words.
#   2. lowdown starts the text after a heading with .LP, which the heading
#      already does ("skipping paragraph macro: PP after SH"): removed.
#   3. A definition list item comes out as `.LP`, the term, four lines
#      that pull the definition up one line on groff (`.if n \`,
#      `.sp -1v`, `.if t \`, `.sp -0.25v`; mandoc ignores them and leaves
#      a blank line) and `.IP "" 5n`: made a tagged paragraph, `.TP` and
#      the term, which both render as a term with its definition below.
#   4. A page with a table gets the `'\" t` line that tells man(1) to run
#      tbl(1).
set -eu

cd "$(dirname "$0")/.."

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: scripts/man.sh OUTDIR" >&2
    exit 64
fi
out=$1

if ! command -v lowdown >/dev/null 2>&1; then
    echo "man.sh: lowdown not found: the manual pages are built with it (apt-get install lowdown)" >&2
    exit 69
fi

version=$(cat VERSION)
mkdir -p "$out"

n=0
for src in docs/*.[1-8].md; do
    [ -e "$src" ] || continue
    base=${src##*/}
    base=${base%.md}              # procket.conf.5
    section=${base##*.}           # 5
    name=${base%.*}               # procket.conf
    title=$(printf '%s\n' "$name" | tr '[:lower:]' '[:upper:]')

    first=$(sed -n 1p "$src")
    if [ "$first" != "# $name($section)" ]; then
        echo "man.sh: $src: the first line must be \"# $name($section)\", not \"$first\"" >&2
        exit 65
    fi

    if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
        date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
    else
        date=$(date -u -r "$src" +%Y-%m-%d)
    fi

    tmp=$out/.$base.tmp
    sed 1d "$src" |
        lowdown -s -Tman --parse-no-intraemph --parse-no-metadata --parse-no-super \
            -M "title=$title" -M "section=$section" -M "date=$date" \
            -M "source=procket $version" -M "shiftheadinglevelby=-1" >"$tmp"

    {
        if grep -q '^\.TS' "$tmp"; then
            printf "'\\\\\" t\\n"
        fi
        # One sed for each change, in this order (3 before 2: the .LP that
        # starts a definition list right after a heading is the list's).
        # In 2 and 3 a line that starts a pattern gets the lines after it
        # appended (N), the pattern is rewritten, and then the first line
        # is printed and the rest goes round again (P, D), so every line
        # is looked at as the start of a pattern.
        sed -e 's/\\fC/\\fB\\%/g' "$tmp" |
        sed -e '/^\.LP$/{
                    $!N
                    $!N
                }' \
            -e '/^\.LP\n.*\n\.if n \\$/{
                    N
                    N
                    N
                    N
                    /\n\.sp -1v\n\.if t \\\n\.sp -0\.25v\n\.IP "" 5n$/{
                        s/^\.LP\n/.TP\n/
                        s/\n\.if n \\\n.*$//
                    }
                }' \
            -e '/\n/{
                    P
                    D
                }' |
        sed -e '/^\.S[HS]$/{
                    $!N
                    $!N
                    s/\n\.LP$//
                }' \
            -e '/\n/{
                    P
                    D
                }'
    } >"$out/$base"
    rm -f "$tmp"
    n=$((n + 1))
done

if [ "$n" -eq 0 ]; then
    echo "man.sh: no docs/*.[1-8].md found" >&2
    exit 66
fi
