; imsrelay-setup.exe: installs imsrelay.exe to Program Files, registers it with
; `imsrelay.exe install` (service MSExchangeIMC, event source, safe defaults, MailRoot), and
; an uninstaller in Add/Remove Programs that runs `imsrelay.exe uninstall` (which saves the
; configuration as a .reg file in MailRoot first). Silent with /S, both ways.
; Built by installer/CMakeLists.txt: makensis -DIMSRELAY_EXE=... -DEXAMPLES_DIR=...
;   -DVERSION=... -DOUTFILE=... imsrelay.nsi

Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel admin
ManifestSupportedOS all

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!define PRODUCT "imsrelay"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\imsrelay"
!define SERVICE "MSExchangeIMC"

Name "${PRODUCT} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\imsrelay"
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${PRODUCT} ${VERSION}"

!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_TEXT "imsrelay is installed as the service ${SERVICE}. Only this machine may relay (RelayFlags 2, RelayAllowList 127.0.0.1). Edit the relay lists under HKLM\SYSTEM\CurrentControlSet\Services\${SERVICE}\Parameters (examples in $INSTDIR\examples), then start it: net start ${SERVICE}"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "FileDescription" "${PRODUCT} setup"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "imsrelay developers"

Function .onInit
    ${IfNot} ${RunningX64}
        MessageBox MB_ICONSTOP "imsrelay needs 64-bit Windows." /SD IDOK
        Abort
    ${EndIf}
    SetRegView 64
FunctionEnd

Function un.onInit
    SetRegView 64
FunctionEnd

Section "imsrelay" SecMain
    SectionIn RO
    SetShellVarContext all
    ; An upgrade replaces a running exe: stop the service first, start it again after.
    nsExec::ExecToLog 'net stop ${SERVICE}'
    Pop $1
    SetOutPath "$INSTDIR"
    File "/oname=imsrelay.exe" "${IMSRELAY_EXE}"
    SetOutPath "$INSTDIR\examples"
    File "${EXAMPLES_DIR}\*.reg"
    ; The Group Policy templates, for a domain's central store (see README, "A fleet").
    SetOutPath "$INSTDIR\policy"
    File "${POLICY_DIR}\imsrelay.admx"
    SetOutPath "$INSTDIR\policy\en-US"
    File "${POLICY_DIR}\en-US\imsrelay.adml"
    SetOutPath "$INSTDIR"
    WriteUninstaller "$INSTDIR\uninstall.exe"

    nsExec::ExecToLog '"$INSTDIR\imsrelay.exe" install'
    Pop $0
    ${If} $0 != 0
        DetailPrint "imsrelay.exe install failed with exit code $0"
        MessageBox MB_ICONSTOP "imsrelay.exe install failed (exit code $0); see the details." /SD IDOK
        SetErrorLevel 2
        Abort
    ${EndIf}

    WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "imsrelay (SMTP relay control, ${SERVICE})"
    WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
    WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "imsrelay developers"
    WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
    WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\imsrelay.exe"
    WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
    WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
    WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
    WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
    WriteRegDWORD HKLM "${UNINSTALL_KEY}" "EstimatedSize" 2048

    ${If} $1 == 0
        nsExec::ExecToLog 'net start ${SERVICE}'
        Pop $1
    ${EndIf}
SectionEnd

; Offered, and on by default: the templates in this machine's PolicyDefinitions, so the
; Group Policy editor here shows imsrelay's settings.
Section "Group Policy templates in PolicyDefinitions" SecPolicy
    SetOutPath "$WINDIR\PolicyDefinitions"
    File "${POLICY_DIR}\imsrelay.admx"
    SetOutPath "$WINDIR\PolicyDefinitions\en-US"
    File "${POLICY_DIR}\en-US\imsrelay.adml"
SectionEnd

Section "Uninstall"
    SetShellVarContext all
    nsExec::ExecToLog '"$INSTDIR\imsrelay.exe" uninstall'
    Pop $0
    ${If} $0 != 0
        DetailPrint "imsrelay.exe uninstall failed with exit code $0"
        MessageBox MB_ICONSTOP "imsrelay.exe uninstall failed (exit code $0): nothing was removed; see the details." /SD IDOK
        SetErrorLevel 2
        Abort
    ${EndIf}
    Delete "$INSTDIR\imsrelay.exe"
    Delete "$INSTDIR\examples\*.reg"
    RMDir "$INSTDIR\examples"
    Delete "$INSTDIR\policy\en-US\imsrelay.adml"
    RMDir "$INSTDIR\policy\en-US"
    Delete "$INSTDIR\policy\imsrelay.admx"
    RMDir "$INSTDIR\policy"
    Delete "$WINDIR\PolicyDefinitions\en-US\imsrelay.adml"
    Delete "$WINDIR\PolicyDefinitions\imsrelay.admx"
    Delete "$INSTDIR\uninstall.exe"
    RMDir "$INSTDIR"
    DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
