#ifndef EVENTRELAY_CCURL_SHIM_H
#define EVENTRELAY_CCURL_SHIM_H

// Why this file exists: curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are
// C variadic functions, which Swift cannot call ("Variadic function is unavailable").
// Each wrapper below fixes one argument type, so Swift sees an ordinary typed function.
// Besides those, a few readers of C structs Swift cannot reach comfortably (CURLMsg's union,
// struct curl_sockaddr). Nothing else belongs here: the Swift side (HTTPClient) owns the handles,
// makes every decision and checks every code.

#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef size_t (*ercurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);

// CURLOPT_OPENSOCKETFUNCTION: sees each resolved address before its socket is opened.
typedef curl_socket_t (*ercurl_opensocket_callback)(void *clientp, curlsocktype purpose, struct curl_sockaddr *address);

// CURLOPT_PREREQFUNCTION (libcurl >= 7.80): sees the connected (or reused) peer before the request is sent.
typedef int (*ercurl_prereq_callback)(void *clientp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port, int conn_local_port);

// CURLOPT_* options taking a long (timeouts, flags, sizes that fit a long).
static inline CURLcode ercurl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

// CURLOPT_* options taking a curl_off_t (POSTFIELDSIZE_LARGE, MAXFILESIZE_LARGE).
static inline CURLcode ercurl_easy_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

// CURLOPT_* options taking a C string (URL, CUSTOMREQUEST, PROTOCOLS_STR). libcurl copies these.
static inline CURLcode ercurl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

// CURLOPT_* options taking an opaque pointer (POSTFIELDS, WRITEDATA, HEADERDATA, ERRORBUFFER).
// libcurl does not copy POSTFIELDS: the caller keeps the buffer alive until the transfer ends.
static inline CURLcode ercurl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

// CURLOPT_HTTPHEADER: a header list the caller frees after the transfer.
static inline CURLcode ercurl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

// CURLOPT_WRITEFUNCTION / CURLOPT_HEADERFUNCTION: a data callback.
static inline CURLcode ercurl_easy_setopt_callback(CURL *handle, CURLoption option, ercurl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

// CURLOPT_OPENSOCKETFUNCTION.
static inline CURLcode ercurl_easy_setopt_opensocket(CURL *handle, ercurl_opensocket_callback value) {
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, value);
}

// CURLOPT_PREREQFUNCTION.
static inline CURLcode ercurl_easy_setopt_prereq(CURL *handle, ercurl_prereq_callback value) {
    return curl_easy_setopt(handle, CURLOPT_PREREQFUNCTION, value);
}

// struct curl_sockaddr holds a sockaddr_in or sockaddr_in6 behind a plain `struct sockaddr`,
// awkward to reinterpret from Swift: copy the raw address out. Writes 4 (AF_INET) or 16
// (AF_INET6) bytes to `out` and returns that count; 0 for any other family or a short length.
static inline int ercurl_sockaddr_address(const struct curl_sockaddr *address, unsigned char out[16]) {
    if (address->family == AF_INET && address->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)&address->addr;
        memcpy(out, &v4->sin_addr, 4);
        return 4;
    }
    if (address->family == AF_INET6 && address->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)&address->addr;
        memcpy(out, &v6->sin6_addr, 16);
        return 16;
    }
    return 0;
}

// What libcurl's own open-socket step does: a socket of the address's family, type and protocol
// (close-on-exec, so no child process inherits a connection). CURL_SOCKET_BAD (-1) on failure.
static inline curl_socket_t ercurl_open_socket(const struct curl_sockaddr *address) {
#ifdef SOCK_CLOEXEC
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
#else
    return socket(address->family, address->socktype, address->protocol);
#endif
}

// CURLINFO_* values returned as a long (RESPONSE_CODE).
static inline CURLcode ercurl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

// CURLMOPT_* options taking a long (MAX_TOTAL_CONNECTIONS, MAX_HOST_CONNECTIONS).
static inline CURLMcode ercurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

// CURLMsg.data is a union; reading it from Swift is awkward, so read the result here.
static inline CURLcode ercurl_msg_result(const CURLMsg *msg) {
    return msg->data.result;
}

#endif
