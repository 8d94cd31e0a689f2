#ifndef EVENTRELAY_CCURL_SHIM_H
#define EVENTRELAY_CCURL_SHIM_H

// Why this file exists: curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are
// C variadic functions, which Swift cannot call ("Variadic function is unavailable").
// Each wrapper below fixes one argument type, so Swift sees an ordinary typed function.
// Nothing else belongs here: the Swift side (HTTPClient) owns the handles and checks every code.

#include <curl/curl.h>

typedef size_t (*ercurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);

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
