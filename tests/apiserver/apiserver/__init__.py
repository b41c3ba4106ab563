# SPDX-License-Identifier: Apache-2.0
"""A stand-in Kubernetes API server for tests (Python standard library only);
see ../README.md."""
