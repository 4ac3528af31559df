"""A person at a node's pages, without a browser: signs in through the form, keeps the session
cookie, and posts forms with the CSRF token of the page they came from."""
from __future__ import annotations

import re

import requests

CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


class PageClient:
    def __init__(self, province, node: str):
        self.province = province
        self.node = node
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.province.url(self.node, path)

    def sign_in(self, role: str) -> requests.Response:
        form = self.http.get(self.url("/masuk"), timeout=10)
        assert form.status_code == 200, form.text
        signed_in = self.http.post(self.url("/masuk"), data={"csrf": csrf_of(form.text),
                                                            "token": self.province.tokens[self.node][role]},
                                   allow_redirects=False, timeout=10)
        assert signed_in.status_code == 303, signed_in.text
        return signed_in

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return self.http.get(self.url(path), **kwargs)

    def submit(self, path: str, data: dict | list, *, page: str | None = None, **kwargs) -> requests.Response:
        """Post a form of ``page`` (default: ``path`` itself) with that page's CSRF token."""
        token = csrf_of(self.get(page or path).text)
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        kwargs.setdefault("timeout", 20)
        kwargs.setdefault("allow_redirects", False)
        return self.http.post(self.url(path), data=[("csrf", token), *fields], **kwargs)
