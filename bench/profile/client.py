#!/usr/bin/env python3
"""Sends N GET requests to URL over one keep-alive connection, one after
another, with an optional extra header ("Name: value"); prints the status
counts. bench/profile/callgrind.sh's load: a fixed number of requests, so
that a profile's instruction count divides into a per-request figure.

    client.py URL N [HEADER]
"""

import collections
import http.client
import sys
import urllib.parse


def main():
    url = urllib.parse.urlsplit(sys.argv[1])
    n = int(sys.argv[2])
    headers = {}
    if len(sys.argv) > 3 and sys.argv[3]:
        name, value = sys.argv[3].split(":", 1)
        headers[name.strip()] = value.strip()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    statuses = collections.Counter()
    for _ in range(n):
        conn.request("GET", url.path, headers=headers)
        response = conn.getresponse()
        response.read()
        statuses[response.status] += 1
    print(" ".join(f"{k}:{v}" for k, v in sorted(statuses.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
