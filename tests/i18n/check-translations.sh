#!/usr/bin/env bash
# Fails when any translatable string in the sources (po/POTFILES.in) has no
# translation, or only a fuzzy one, in a language listed in po/LINGUAS, or
# when a file in POTFILES.in does not exist. The catalog is extracted
# afresh from the sources into a temporary directory, so the check never
# depends on a stale po/lanlan.pot.
#   check-translations.sh SOURCE_ROOT
set -euo pipefail
src=${1:?source root}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$src"
files=()
while read -r f; do
  case "$f" in ''|'#'*) continue ;; esac
  if [ ! -f "$f" ]; then echo "po/POTFILES.in lists a missing file: $f"; exit 1; fi
  files+=("$f")
done < po/POTFILES.in

xgettext --package-name=lanlan --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  -o "$tmp/lanlan.pot" "${files[@]}"
total=$(grep -c '^msgid ' "$tmp/lanlan.pot")
total=$((total - 1))

# Files with _() that POTFILES.in forgot.
missing_files=$(grep -rlE '\b(_|N_|C_)\s*\(\s*"|translatable="yes"' src data --include='*.c' --include='*.ui' --include='*.in' --include='*.xml' \
  | sort | comm -23 - <(printf '%s\n' "${files[@]}" | sort) || true)
if [ -n "$missing_files" ]; then
  echo "files with translatable strings missing from po/POTFILES.in:"
  echo "$missing_files"
  exit 1
fi

status=0
for lang in $(cat po/LINGUAS); do
  msgmerge --quiet --no-fuzzy-matching -o "$tmp/$lang.po" "po/$lang.po" "$tmp/lanlan.pot"
  untranslated=$(msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ' || true)
  fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ' || true)
  # msgattrib's output repeats the header entry.
  untranslated=$((untranslated > 0 ? untranslated - 1 : 0))
  fuzzy=$((fuzzy > 0 ? fuzzy - 1 : 0))
  msgfmt --check -o /dev/null "$tmp/$lang.po"
  echo "$lang: $total strings, $untranslated untranslated, $fuzzy fuzzy"
  if [ "$untranslated" -ne 0 ] || [ "$fuzzy" -ne 0 ]; then
    msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep -A1 '^msgid ' | head -n 40
    status=1
  fi
done
exit $status
