"""OIDC/JWT bearer tokens: verify a token against the configured issuer, audience and keys, and turn it into a
``Caller`` whose name is a claim (``sub`` by default) and whose scopes come from a configurable claim.

Keys are a static PEM public key or shared secret (``ARCHITECT_GATEWAY_JWT_KEY``) or a JWKS URL fetched and
cached by PyJWT's ``PyJWKClient``. Error messages say what is wrong with a token, never its text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from services.gateway.auth import ApiKeys, AuthenticationFailed, Caller, Scope

#: Algorithms accepted when none are configured: asymmetric ones, so a public key can never act as an HMAC secret.
DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})


class JwtConfigError(ValueError):
    """The JWT settings are incomplete or contradictory; the message never contains a key."""


@dataclass(frozen=True)
class JwtConfig:
    """What a valid token must satisfy and where its scopes and caller name are."""

    issuer: str
    audience: str
    key: str | None = field(default=None, repr=False)
    jwks_url: str | None = None
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    scope_claim: str = "scope"
    scope_prefix: str = ""
    name_claim: str = "sub"
    leeway_s: float = 30.0
    jwks_cache_s: float = 300.0

    def __post_init__(self) -> None:
        if not self.issuer or not self.audience:
            raise JwtConfigError("JWT auth needs both ARCHITECT_GATEWAY_JWT_ISSUER and ARCHITECT_GATEWAY_JWT_AUDIENCE")
        if (self.key is None) == (self.jwks_url is None):
            raise JwtConfigError(
                "JWT auth needs exactly one of ARCHITECT_GATEWAY_JWT_KEY or ARCHITECT_GATEWAY_JWT_JWKS_URL"
            )
        if not self.algorithms:
            raise JwtConfigError("ARCHITECT_GATEWAY_JWT_ALGORITHMS is empty")
        symmetric = HMAC_ALGORITHMS.intersection(self.algorithms)
        if symmetric and (self.jwks_url or len(symmetric) != len(self.algorithms)):
            raise JwtConfigError(
                "HMAC algorithms (HS*) need a shared secret in ARCHITECT_GATEWAY_JWT_KEY and no asymmetric algorithm"
            )


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts starting with a base64url JSON header: a JWT rather than an API key."""
    return token.startswith("eyJ") and token.count(".") == 2


def scopes_from_claims(claims: Mapping[str, Any], claim: str, prefix: str = "") -> frozenset[Scope]:
    """The Architect scopes a token grants: the claim (a dotted path) as a space-separated string or a list;
    words other than known scopes (``openid``, other APIs' scopes) are ignored; ``prefix`` is stripped first."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    words = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    known = {s.value: s for s in Scope}
    granted = set()
    for word in words:
        if isinstance(word, str) and word.startswith(prefix) and word[len(prefix) :] in known:
            granted.add(known[word[len(prefix) :]])
    return frozenset(granted)


KeyResolver = Callable[[str], Any]


class JwtVerifier:
    """Verifies bearer tokens with the configured key or JWKS (keys cached for ``jwks_cache_s``)."""

    def __init__(self, config: JwtConfig, *, jwks_client: jwt.PyJWKClient | None = None) -> None:
        self.config = config
        if config.jwks_url is not None:
            client = jwks_client or jwt.PyJWKClient(config.jwks_url, cache_keys=True, lifespan=int(config.jwks_cache_s))
            self._key_for: KeyResolver = lambda token: client.get_signing_key_from_jwt(token).key
        else:
            static_key = config.key
            self._key_for = lambda _token: static_key

    def __repr__(self) -> str:
        return f"JwtVerifier(issuer={self.config.issuer!r}, audience={self.config.audience!r})"

    def authenticate(self, token: str) -> Caller:
        """The caller the token names, or ``AuthenticationFailed`` saying what is wrong with it."""
        claims = self.verify(token)
        name = claims.get(self.config.name_claim)
        if not isinstance(name, str) or not name:
            raise AuthenticationFailed(f"invalid token: no {self.config.name_claim!r} claim naming the caller")
        scopes = scopes_from_claims(claims, self.config.scope_claim, self.config.scope_prefix)
        return Caller(name, scopes, via="token")

    def verify(self, token: str) -> dict[str, Any]:
        config = self.config
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key_for(token),
                algorithms=list(config.algorithms),
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed("invalid token: it has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationFailed(f"invalid token: its audience is not {config.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationFailed(f"invalid token: its issuer is not {config.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise AuthenticationFailed("invalid token: its signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthenticationFailed(f"invalid token: it lacks the {exc.claim!r} claim") from None
        except jwt.ImmatureSignatureError:
            raise AuthenticationFailed("invalid token: it is not valid yet") from None
        except jwt.InvalidAlgorithmError:
            allowed = ", ".join(config.algorithms)
            raise AuthenticationFailed(f"invalid token: its algorithm is not one of {allowed}") from None
        except jwt.PyJWKClientError as exc:
            raise AuthenticationFailed(f"invalid token: no signing key for it ({_first_line(exc)})") from None
        except jwt.InvalidTokenError as exc:
            raise AuthenticationFailed(f"invalid token: {type(exc).__name__}") from None
        return claims


def authenticate(keys: ApiKeys, verifier: JwtVerifier | None, presented: str | None) -> Caller:
    """The caller behind a presented credential: JWT-shaped ones go to the verifier, others are API keys."""
    if presented and looks_like_jwt(presented):
        if verifier is None:
            raise AuthenticationFailed(
                "a JWT was presented but this gateway accepts only API keys "
                "(OIDC/JWT is off: no ARCHITECT_GATEWAY_JWT_ISSUER)"
            )
        return verifier.authenticate(presented)
    return keys.authenticate(presented)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
