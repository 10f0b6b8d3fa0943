#!/usr/bin/env bash
# Publish each year the build moved off the site (DIR/open311-status-YYYY.zip, history/downloads.py) as the
# asset of the release data-YYYY, with its SHA-256 beside it. Only a changed year is uploaded, so a rerun
# uploads nothing: the build makes a year's zip with the same bytes every time.
set -euo pipefail
dir="${1:?usage: release-archive.sh DIR}"
shopt -s nullglob
for zip in "$dir"/open311-status-*.zip; do
  name=$(basename "$zip")
  year=${name#open311-status-}
  tag="data-${year%.zip}"
  sha=$(sha256sum "$zip" | cut -d' ' -f1)
  printf '%s  %s\n' "$sha" "$name" > "$zip.sha256"
  if ! gh release view "$tag" > /dev/null 2>&1; then
    gh release create "$tag" --latest=false --title "Open311 Status history, ${year%.zip}" \
      --notes "The Parquet files of ${year%.zip} that no longer fit on the site; downloads/manifest.json on the site lists them."
  fi
  published=$( (gh release download "$tag" --pattern "$name.sha256" --output - 2> /dev/null || true) | cut -d' ' -f1)
  if [ "$published" = "$sha" ]; then
    echo "$tag: $name unchanged"
  else
    gh release upload "$tag" "$zip" "$zip.sha256" --clobber
    echo "$tag: uploaded $name"
  fi
done
