# SPDX-License-Identifier: Apache-2.0
"""metav1.Status bodies: every failure the stand-in reports is one of these,
with the reason, code and message wording of the real API server, because
clients (kubectl, ours) branch on `reason` and show `message`."""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self):
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(code, reason, message, details=None):
    b = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason}
    if details is not None:
        b["details"] = details
    b["code"] = code
    return b


def _details(res, name):
    d = {"name": name}
    if res.group:
        d["group"] = res.group
    d["kind"] = res.plural
    return d


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.qualified()} "{name}" not found', _details(res, name))


def already_exists(res, name):
    return ApiError(409, "AlreadyExists", f'{res.qualified()} "{name}" already exists', _details(res, name))


def conflict(res, name, why="the object has been modified; please apply your changes to the latest "
                            "version and try again"):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.qualified()} "{name}": {why}',
                    _details(res, name))


def invalid(res, name, field, value, detail):
    kind = res.kind if not res.group else f"{res.kind}.{res.group}"
    msg = f'{kind} "{name}" is invalid: {field}: Invalid value: "{value}": {detail}'
    d = _details(res, name)
    d["kind"] = res.kind
    d["causes"] = [{"reason": "FieldValueInvalid", "message": f'Invalid value: "{value}": {detail}',
                    "field": field}]
    return ApiError(422, "Invalid", msg, d)


def required(res, field, detail="name or generateName is required"):
    kind = res.kind if not res.group else f"{res.kind}.{res.group}"
    d = {"kind": res.kind, "causes": [{"reason": "FieldValueRequired", "message": f"Required value: {detail}",
                                       "field": field}]}
    if res.group:
        d["group"] = res.group
    return ApiError(422, "Invalid", f'{kind} "" is invalid: {field}: Required value: {detail}', d)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def gone(message):
    return ApiError(410, "Expired", message)


def not_found_path():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed():
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})
