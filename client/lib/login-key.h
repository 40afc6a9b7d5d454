/*
 * login-key.h - public-key login, the client's half (login-key.c).
 */
#ifndef TETHER_LOGIN_KEY_H
#define TETHER_LOGIN_KEY_H

#include <jansson.h>
#include <stddef.h>

#include "client-int.h"

/* Log user in to t with a key: --identity's, then ssh-agent's. OK with the
 * server's login reply in *reply and the key's fingerprint in fp;
 * TETHER_E_AUTH_FAILED (message recorded) when there was no key to offer
 * or none was accepted (the caller may then try a password); any other
 * error is the connection's or the user's to see. */
tether_err login_key(tether_client *c, struct target *t, const char *user,
                     const struct tether_login_opts *o, json_t **reply, char *fp, size_t fpsz);

#endif
