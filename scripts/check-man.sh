#!/bin/sh
# check-man.sh: builds the manual pages (scripts/man.sh) into a temporary
# directory and checks each of them. Needs lowdown, mandoc, groff and
# man-db (man, lexgrog), and a built priv/ (the programs' -h is compared).
#
# (a) Lint: `mandoc -T lint -W warning` and `groff -t -ww -z -man` (with
#     the default device and with -Tutf8, which man(1) uses on a terminal;
#     -t runs tbl(1) for a page with a table) must print nothing. No
#     message is filtered.
# (b) Rendering: `man -l` and mandoc(1) each render the page without a
#     message on standard error, to text that has the sections NAME,
#     SYNOPSIS and DESCRIPTION; lexgrog(1) (what mandb(8) indexes for
#     whatis(1) and apropos(1)) reads a `name - description` line from
#     NAME whose first name is the page's.
# (c) Synopsis against usage, for a page of section 1 or 8: the program
#     priv/NAME must exist, and the forms of its usage must be exactly the
#     forms of the page's SYNOPSIS, no more and no fewer:
#       - the usage is what `priv/NAME -h` prints (standard output and
#         error), from the line starting `usage:` up to the first blank
#         line, with `usage:` taken off;
#       - the SYNOPSIS is the page's SYNOPSIS section as mandoc renders it;
#       - in both, a form starts at each line whose first word is the
#         program's name; the lines after it, up to the next such line,
#         continue it; each form has its runs of blanks made one space;
#       - the two lists, sorted, must be equal. An option that -h gains
#         and the page lacks, or that the page keeps after -h dropped it,
#         fails here.
# (d) procket(3) against c_src/include/procket.h (comments removed, blanks
#     made one space, none after `(` or before `)`, `,` and `;`):
#       - every function declared PROCKET_API appears in the page's
#         SYNOPSIS with the header's prototype, word for word;
#       - every member declaration of every struct in the header
#         (`int family;`, `char ifname[PROCKET_IFNAME_MAX + 1];`, ...)
#         and every macro PROCKET_* the header defines (but PROCKET_H
#         and PROCKET_API) appears in the page.
#
# The last line is the summary, "check-man: N pages, N warnings" (and the
# number of failed checks when there are any); the exit status is 0 only
# if there was no warning and no failure.
set -eu

cd "$(dirname "$0")/.."

for tool in lowdown mandoc groff man lexgrog; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "check-man: $tool not found (apt-get install lowdown mandoc groff-base man-db)" >&2
        exit 69
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

scripts/man.sh "$tmp/man"

bs=$(printf '\b')
pages=0
warnings=0
failures=0

fail() {
    echo "check-man: $*" >&2
    failures=$((failures + 1))
}

# warn PAGE TOOL OUTPUT: counts and shows the messages in OUTPUT.
warn() {
    if [ -n "$3" ]; then
        n=$(printf '%s\n' "$3" | wc -l)
        warnings=$((warnings + n))
        echo "check-man: $1: $2:" >&2
        printf '%s\n' "$3" | sed 's/^/    /' >&2
    fi
}

# normalise: blanks made single spaces, none at the ends, none after "("
# or before ")", "," and ";".
normalise() {
    sed -e 's/[[:space:]][[:space:]]*/ /g' -e 's/^ //' -e 's/ $//' \
        -e 's/( /(/g' -e 's/ )/)/g' -e 's/ ,/,/g' -e 's/ ;/;/g'
}

# section_of TEXT-FILE NAME: the lines of section NAME of a rendered page.
section_of() {
    awk -v name="$2" '
        /^[^ \t]/ { inside = ($0 == name); next }
        inside' "$1"
}

# forms PROGRAM: one form a line, from the lines on standard input.
forms() {
    awk -v prog="$1" '
        { sub(/^[ \t]+/, "") }
        $1 == prog { if (form != "") print form; form = $0; next }
        form != "" && NF > 0 { form = form " " $0 }
        END { if (form != "") print form }' | normalise
}

# The header, without comments.
awk '{
    line = $0; out = ""
    while (line != "") {
        if (incomment) {
            i = index(line, "*/")
            if (i == 0) { line = ""; break }
            line = substr(line, i + 2); incomment = 0
        } else {
            i = index(line, "/*")
            if (i == 0) { out = out line; line = "" }
            else { out = out substr(line, 1, i - 1); line = substr(line, i + 2); incomment = 1 }
        }
    }
    print out
}' c_src/include/procket.h >"$tmp/header"

for page in "$tmp"/man/*.[1-8]; do
    [ -e "$page" ] || continue
    pages=$((pages + 1))
    base=${page##*/}
    section=${base##*.}
    name=${base%.*}
    label="$name($section)"

    # (a)
    out=$(mandoc -T lint -W warning "$page" 2>&1 || true)
    warn "$label" "mandoc -T lint" "$out"
    out=$(groff -t -ww -z -man "$page" 2>&1 || true)
    warn "$label" "groff" "$out"
    out=$(groff -t -ww -z -man -Tutf8 "$page" 2>&1 || true)
    warn "$label" "groff -Tutf8" "$out"

    # (b)
    if MANWIDTH=80 man -P cat -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err"; then
        warn "$label" "man -l" "$(cat "$tmp/man.err")"
    else
        fail "$label: man -l failed: $(cat "$tmp/man.err")"
    fi
    if mandoc -T ascii -O width=200 "$page" 2>"$tmp/mandoc.err" |
        sed "s/.$bs//g" >"$tmp/text"; then
        warn "$label" "mandoc" "$(cat "$tmp/mandoc.err")"
    else
        fail "$label: mandoc failed: $(cat "$tmp/mandoc.err")"
    fi
    for f in "$tmp/man.txt" "$tmp/text"; do
        [ "$f" = "$tmp/man.txt" ] && how="man -l" || how=mandoc
        if ! grep -q '[^[:space:]]' "$f"; then
            fail "$label: $how renders nothing"
            continue
        fi
        for s in NAME SYNOPSIS DESCRIPTION; do
            grep -qx "$s" "$f" || fail "$label: $how: no $s section"
        done
    done
    whatis=$(lexgrog "$page" 2>&1 || true)
    case $whatis in
        "$page: \"$name - "?*) ;;
        *) fail "$label: whatis sees no \"$name - description\" line in NAME: $whatis" ;;
    esac

    section_of "$tmp/text" SYNOPSIS >"$tmp/synopsis"

    # (c)
    case $section in
        1 | 8)
            prog=priv/$name
            if [ ! -x "$prog" ]; then
                fail "$label: $prog is not there to compare the SYNOPSIS with its -h (build it first)"
            else
                "$prog" -h >"$tmp/help" 2>&1 || true
                awk '/^usage:/ { on = 1; sub(/^usage:/, "") }
                     on && /^[ \t]*$/ { exit }
                     on' "$tmp/help" | forms "$name" | LC_ALL=C sort >"$tmp/usage"
                forms "$name" <"$tmp/synopsis" | LC_ALL=C sort >"$tmp/page-forms"
                if [ ! -s "$tmp/usage" ]; then
                    fail "$label: $prog -h prints no \"usage:\" line"
                fi
                if [ ! -s "$tmp/page-forms" ]; then
                    fail "$label: no line of the SYNOPSIS starts with \"$name\" (a form is the command line itself, without \"usage:\")"
                fi
                LC_ALL=C comm -23 "$tmp/usage" "$tmp/page-forms" >"$tmp/missing"
                LC_ALL=C comm -13 "$tmp/usage" "$tmp/page-forms" >"$tmp/extra"
                while IFS= read -r form; do
                    fail "$label: SYNOPSIS lacks this form of $prog -h: $form"
                done <"$tmp/missing"
                while IFS= read -r form; do
                    fail "$label: SYNOPSIS has a form $prog -h does not print: $form"
                done <"$tmp/extra"
            fi
            ;;
    esac

    # (d)
    if [ "$label" = "procket(3)" ]; then
        synopsis=$(normalise <"$tmp/synopsis" | tr '\n' ' ' | normalise)
        text=$(normalise <"$tmp/text" | tr '\n' ' ' | normalise)
        awk '/^PROCKET_API / { on = 1; proto = "" }
             on { proto = proto " " $0 }
             on && /;/ { sub(/^ *PROCKET_API /, "", proto); sub(/;.*/, ";", proto)
                         print proto; on = 0 }' "$tmp/header" | normalise >"$tmp/protos"
        [ -s "$tmp/protos" ] || fail "procket.h: no PROCKET_API function found"
        while IFS= read -r proto; do
            case $synopsis in
                *"$proto"*) ;;
                *) fail "$label: SYNOPSIS lacks the prototype: $proto" ;;
            esac
        done <"$tmp/protos"
        awk '/^struct [a-z_]+ \{/ { on = 1; next }
             on && /^\};/ { on = 0; next }
             on' "$tmp/header" | tr ';' '\n' | normalise | sed -e '/^$/d' -e 's/$/;/' >"$tmp/members"
        while IFS= read -r member; do
            case $text in
                *"$member"*) ;;
                *) fail "$label: lacks the struct member: $member" ;;
            esac
        done <"$tmp/members"
        sed -n 's/^#define \(PROCKET_[A-Z0-9_]*\).*/\1/p' "$tmp/header" |
            grep -vx 'PROCKET_H\|PROCKET_API' >"$tmp/macros"
        while IFS= read -r macro; do
            grep -qw "$macro" "$tmp/text" || fail "$label: lacks the macro $macro"
        done <"$tmp/macros"
    fi
done

[ "$pages" -gt 0 ] || fail "no page was built"

if [ "$failures" -gt 0 ]; then
    echo "check-man: $pages pages, $warnings warnings, $failures failed checks"
    exit 1
fi
echo "check-man: $pages pages, $warnings warnings"
[ "$warnings" -eq 0 ]
