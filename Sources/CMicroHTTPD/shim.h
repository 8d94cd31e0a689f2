#ifndef EVENTRELAY_CMICROHTTPD_SHIM_H
#define EVENTRELAY_CMICROHTTPD_SHIM_H

// Why this file exists: MHD_start_daemon and MHD_get_daemon_info are C variadic functions,
// which Swift cannot call. These wrappers give them fixed, typed signatures. The options go
// through MHD_OPTION_ARRAY so that one wrapper covers every option the server sets.
// Nothing else belongs here: the Swift side (HTTPServer) owns the daemon and checks every result.

#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>

// libmicrohttpd >= 0.9.71 returns enum MHD_Result from handlers; older ones return int.
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result ermhd_result;
#else
typedef int ermhd_result;
#endif

typedef ermhd_result (*ermhd_access_handler)(void *cls, struct MHD_Connection *connection,
                                             const char *url, const char *method, const char *version,
                                             const char *upload_data, size_t *upload_data_size,
                                             void **con_cls);
typedef void (*ermhd_completed_handler)(void *cls, struct MHD_Connection *connection,
                                        void **con_cls, enum MHD_RequestTerminationCode toe);

/// Starts a daemon bound to `address` (an IPv4/IPv6 sockaddr) with a per-connection timeout
/// (seconds), a connection limit and a completion callback. Returns NULL on failure.
static inline struct MHD_Daemon *ermhd_start_daemon(unsigned int flags,
                                                    const struct sockaddr *address,
                                                    unsigned int connection_timeout,
                                                    unsigned int connection_limit,
                                                    ermhd_access_handler handler, void *handler_context,
                                                    ermhd_completed_handler completed, void *completed_context) {
    struct MHD_OptionItem options[] = {
        { MHD_OPTION_SOCK_ADDR, 0, (void *)address },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)connection_timeout, NULL },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)connection_limit, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, completed_context },
        { MHD_OPTION_END, 0, NULL },
    };
    return MHD_start_daemon(flags, 0, NULL, NULL,
                            (MHD_AccessHandlerCallback)handler, handler_context,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The port the daemon is bound to (useful after binding port 0), or 0 if unknown.
static inline uint16_t ermhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

// MHD's closed enums import into Swift under names that vary with the header version;
// these constants keep the Swift side independent of that.
static const ermhd_result ERMHD_YES = MHD_YES;
static const ermhd_result ERMHD_NO = MHD_NO;
static const enum MHD_ValueKind ERMHD_HEADER_KIND = MHD_HEADER_KIND;
static const enum MHD_ValueKind ERMHD_QUERY_KIND = MHD_GET_ARGUMENT_KIND;
static const enum MHD_ResponseMemoryMode ERMHD_RESPMEM_MUST_COPY = MHD_RESPMEM_MUST_COPY;

#endif
