/* add_root_cert FILE.der: puts one certificate into this machine's LocalMachine\Root store,
 * as an administrator would with certutil -addstore Root (Wine has no certutil). The
 * delivery TLS tests make their own CA trusted with it. */
#include <windows.h>
#include <wincrypt.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: add_root_cert FILE.der\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    static BYTE der[65536];
    size_t len = fread(der, 1, sizeof(der), f);
    fclose(f);
    HCERTSTORE store =
            CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, CERT_SYSTEM_STORE_LOCAL_MACHINE, L"Root");
    if (!store) {
        fprintf(stderr, "cannot open LocalMachine\\Root: 0x%08lx\n", (unsigned long)GetLastError());
        return 1;
    }
    if (!CertAddEncodedCertificateToStore(store, X509_ASN_ENCODING, der, (DWORD)len,
                                          CERT_STORE_ADD_REPLACE_EXISTING, NULL)) {
        fprintf(stderr, "cannot add the certificate: 0x%08lx\n", (unsigned long)GetLastError());
        CertCloseStore(store, 0);
        return 1;
    }
    /* Wine writes the store back to the registry when its last handle closes. */
    CertCloseStore(store, 0);
    puts("added to LocalMachine\\Root");
    return 0;
}
