#!/usr/bin/with-contenv sh
# Start the add-on. Inside the Supervisor no arguments are needed (SUPERVISOR_TOKEN and
# /data/options.json are there); standalone, pass the arguments after the script's name,
# e.g. /run.sh --ha-url http://homeassistant.local:8123 --data-dir /data --host 0.0.0.0
exec python3 -m eaio_addon "$@"
