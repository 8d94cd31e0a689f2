"""What the benchmarks (e2e.py, api.py) share: free loopback ports and one nginx configuration."""

import os
import socket


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_nginx_conf(work, port, logging, location, root=None):
    """A one-worker nginx on 127.0.0.1:port with its files under work; `logging` is the access
    log directive(s), `location` what `location /` does. Returns the configuration's path."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(work, sub), exist_ok=True)
    conf = os.path.join(work, "nginx.conf")
    root_line = f"root {root};" if root else ""
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    {logging}
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        {root_line}
        location / {{ {location} }}
    }}
}}
""")
    return conf
