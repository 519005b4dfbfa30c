# The server under test: imsrelay.exe installed as the MSExchangeIMC service in a Wine prefix
# of the benchmark's own (tests/wine/lib.sh), configured the way an administrator would, with
# reg add and regedit /s. Sourced by run-smtp-bench (bash, set -euo pipefail).
#
#   ims_begin NAME PORT          # prefix, install, base configuration (not started)
#   ims_start                    # net start; prints seconds from net start to port open
#   ims_stop
#   ims_reg_dword NAME VALUE / ims_reg_multi NAME LINE... / ims_reg_delete NAME
#   ims_reg_import FILE.reg      # regedit /s
#   ims_pid                      # Linux pid of the running imsrelay.exe of this prefix
#   ims_queue_count / ims_queue_clear

IMS_KEY='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
# The event a live reload after a registry change reports: IMS_EVENT_CONFIG_RELOADED, an
# information event (trace:) whose first insertion string names the registry as trigger. A
# refused reload has the same trigger text in an error event (err:).
IMS_RELOADED_PATTERN='trace:eventlog:ReportEventW L"the registry'

ims_begin() {
    local name=$1
    IMS_PORT=$2
    source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
    e2e_begin "$name"
    e2e_install_exe
    e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "imsrelay.exe install failed"
    IMS_MAILROOT="$E2E_DRIVE_C/mail"
    ims_reg_dword ListenPort "$IMS_PORT"
    ims_reg_multi ListenAddresses 127.0.0.1
    e2e_reg add "$IMS_KEY" /v MailRoot /t REG_SZ /d 'C:\mail' /f
    ims_reg_multi LocalDomains example.com
    # These rows measure acceptance (every 250 on disk), which the bench counts in Queue:
    # relayed mail goes to a smart host nobody listens on, so it stays queued (deferred) and
    # is neither delivered nor bounced while it is counted; far.test has no DNS here.
    e2e_reg add "$IMS_KEY" /v SmartHost /t REG_SZ /d '[127.0.0.1]:1' /f
    # ListenAddresses keeps the port off the machine's network. Nothing else: the service
    # runs with its shipped defaults (MaxConnections,
    # MaxConnectionsPerClient, ProtocolLog...); a load that needs a limit raised is a finding.
}

# A reg add that fails ends the bench with what reg said (under set -e it would end it
# without a word).
ims_reg_dword() {
    ims_reg_add "$1" REG_DWORD "$2"
}

ims_reg_add() {
    e2e_reg add "$IMS_KEY" /v "$1" /t "$2" /d "$3" /f
}

ims_reg_multi() {
    local name=$1 joined
    shift
    joined=$(printf '%s\\0' "$@")
    ims_reg_add "$name" REG_MULTI_SZ "${joined%\\0}"
}

ims_reg_delete() {
    e2e_wine reg delete "$IMS_KEY" /v "$1" /f >/dev/null 2>&1 || true
}

ims_reg_import() {
    e2e_wine regedit /s "$(winepath_of "$1")" >/dev/null 2>&1
}

# winepath_of UNIX_PATH: the same file as a Windows path (Z: is the Unix root in a prefix).
winepath_of() {
    local p
    p=$(realpath "$1")
    echo "Z:${p//\//\\}"
}

# Prints the seconds from `net start` to the port accepting connections.
ims_start() {
    local t0 t1
    t0=$(now)
    # A start that did not reach the service is tried again (that sample then counts it).
    e2e_net_start MSExchangeIMC
    python3 "$BENCH_LIB/wait_until.py" port "$IMS_PORT" 120 >/dev/null ||
        e2e_fail "imsrelay did not open port $IMS_PORT"
    t1=$(now)
    elapsed "$t0" "$t1"
}

# Returns once the old imsrelay.exe has exited, not just reported STOPPED: until then
# ims_pid could find it instead of the next one (the memory figure would be the wrong
# process's, or its /proc entry gone mid-measure).
ims_stop() {
    e2e_stop_service
}

# The imsrelay.exe process of this prefix (tests/wine/lib.sh: by command line and WINEPREFIX).
ims_pid() {
    e2e_exe_pid
}

# The wineserver of this prefix (it holds Wine's side of every socket of the service).
ims_wineserver_pid() {
    e2e_prefix_pid '(^|/)wineserver(64)?$'
}

# Messages in Queue\<XX>\: one ID.eml each (the queue manager keeps a journal, ID.state,
# beside every message it has tried, so counting files would count a deferred message twice).
ims_queue_count() {
    find "$IMS_MAILROOT/Queue" -type f -name '*.eml' 2>/dev/null | wc -l
}

# Accepted messages stay in Queue (the service has no delivery agent to drain it): emptied
# between runs so that every run writes into a folder of the same size.
ims_queue_clear() {
    find "$IMS_MAILROOT/Queue" "$IMS_MAILROOT/Drop" -type f -delete 2>/dev/null || true
}
