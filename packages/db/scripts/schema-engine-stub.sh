#!/bin/sh
# Stub: prisma generate only checks that a schema engine exists; it never runs it.
echo "schema engine unavailable offline" >&2
exit 1
