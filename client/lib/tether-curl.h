/*
 * tether-curl.h - libtether's judgments for a program that also drives
 * libcurl itself (tetherd's transfer worker), so that both sides of it
 * judge a transfer the same way.
 */
#ifndef TETHER_CURL_H
#define TETHER_CURL_H

#include <curl/curl.h>

/* Why the transfer h just ended with rc failed at its proxy (the proxy
 * could not be reached or refused the tunnel: nothing was sent), or NULL
 * if it did not. */
const char *tether_curl_proxy_failure(CURL *h, CURLcode rc);

#endif
