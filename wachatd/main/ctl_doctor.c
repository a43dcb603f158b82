/*
 * wachatctl doctor: its options read, then doctor.c's checks.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "main/ctl_int.h"
#include "main/doctor.h"


static char *
wachatctl_read_secret(const char *path)
{
    char    buf[4096];
    FILE   *f;
    size_t  n;

    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }

    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';

    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                 || buf[n - 1] == ' '))
    {
        buf[--n] = '\0';
    }

    return n ? strdup(buf) : NULL;
}


/*
 * doctor [--phone-number-id ID] [--callback URL --app-secret-file PATH]
 *        [--replicas N]
 */
int
wachatctl_doctor(wachatctl_t *ctl, int argc, char **argv)
{
    int                    i, rc;
    char                  *secret;
    wachat_doctor_opts_t   opts;

    memset(&opts, 0, sizeof(opts));
    opts.replicas = -1;
    secret = NULL;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--phone-number-id") == 0 && i + 1 < argc) {
            opts.phone_number_id = argv[++i];

        } else if (strcmp(argv[i], "--callback") == 0 && i + 1 < argc) {
            opts.callback_url = argv[++i];

        } else if (strcmp(argv[i], "--replicas") == 0 && i + 1 < argc) {
            opts.replicas = atoi(argv[++i]);

        } else if (strcmp(argv[i], "--app-secret-file") == 0 && i + 1 < argc) {
            secret = wachatctl_read_secret(argv[++i]);

            if (secret == NULL) {
                fprintf(stderr, "wachatctl: cannot read the app secret from "
                        "%s\n", argv[i]);
                return 2;
            }

        } else {
            fprintf(stderr, "wachatctl: doctor: unknown option %s\n",
                    argv[i]);
            free(secret);
            return 2;
        }
    }

    opts.app_secret = secret;
    rc = wachat_doctor(ctl->st, ctl->cfg, &opts);

    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }

    return rc;
}
