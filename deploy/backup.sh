#!/bin/sh
# Back up ragflow-dataset-api's store to a dated file in FOLDER and keep the KEEP newest there:
# `store export` for the JSON file, pg_dump's custom format for PostgreSQL (when
# DATASET_API_DATABASE_URL is set). ragflow-dataset-api-backup.service runs it daily with the
# service's settings. Restore steps: README, "Backups".
# Usage: backup.sh FOLDER [KEEP]  (ragflow-dataset-api, python and pg_dump are taken from PATH)
set -eu
folder=${1:?usage: backup.sh FOLDER [KEEP]}
keep=${2:-14}
case $keep in
    "" | *[!0-9]* | 0) echo "backup.sh: KEEP must be a whole number above 0, not '$keep'" >&2
                       exit 2 ;;
esac
if [ -n "${DATASET_API_DATABASE_URL:-}" ]; then kind=dump; else kind=json; fi
file=$folder/ragflow-dataset-api-$(date -u +%Y-%m-%dT%H%M%SZ).$kind
trap 'rm -f "$file.partial"' EXIT  # a backup cut short leaves nothing behind

if [ $kind = dump ]; then
    # The password reaches pg_dump in its environment: on its command line, ps would show it.
    python - "$file.partial" <<'PYTHON'
import os
import sys

from psycopg.conninfo import conninfo_to_dict, make_conninfo

params = conninfo_to_dict(os.environ["DATASET_API_DATABASE_URL"])
password = params.pop("password", None)
env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
os.execvpe("pg_dump", ["pg_dump", "--format=custom", "--no-password", "--file", sys.argv[1],
                       "--dbname", make_conninfo(**params)], env)
PYTHON
else
    ragflow-dataset-api store export "$file.partial"
fi
mv "$file.partial" "$file"
echo "Backed up to $file"

# The KEEP newest backups stay; their names sort by date. Other files are left alone.
ls "$folder" | grep -E '^ragflow-dataset-api-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{6}Z\.(json|dump)$' \
    | sort -r | tail -n +$((keep + 1)) | while read -r old; do
        rm -f -- "$folder/$old"
        echo "Removed $folder/$old"
    done
