"""API keys: parsing the configured list, authenticating a presented key, and scopes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from services.gateway.auth import (
    DEV_API_KEY,
    DEV_API_KEY_ENTRY,
    ApiKeyFormatError,
    ApiKeys,
    AuthenticationFailed,
    Caller,
    MissingScope,
    Scope,
    presented_key,
)
from services.gateway.settings import GatewaySettings


def test_each_key_authenticates_as_its_name_with_its_scopes() -> None:
    keys = ApiKeys.parse("k1=alice:submit+approve,k2=root:admin")
    assert keys.authenticate("k1") == Caller("alice", frozenset({Scope.SUBMIT, Scope.APPROVE}))
    assert keys.authenticate("k2") == Caller("root", frozenset({Scope.ADMIN}))


def test_whitespace_and_empty_entries_are_ignored() -> None:
    keys = ApiKeys.parse(" k1 = alice : submit , ,")
    assert keys.authenticate("k1") == Caller("alice", frozenset({Scope.SUBMIT}))
    assert len(keys) == 1


def test_a_key_ending_in_base64_padding_keeps_its_equals_signs() -> None:
    keys = ApiKeys.parse("c2VjcmV0==alice:submit")
    assert keys.authenticate("c2VjcmV0=").name == "alice"


def test_an_entry_without_scopes_may_only_query() -> None:
    keys = ApiKeys.parse("k1=reader,k2=viewer:")
    assert keys.authenticate("k1").scopes == frozenset()
    assert keys.authenticate("k2").scopes == frozenset()


@given(st.sampled_from(list(Scope)))
def test_admin_implies_every_scope(scope: Scope) -> None:
    assert Caller("root", frozenset({Scope.ADMIN})).may(scope)


def test_a_scope_does_not_imply_another() -> None:
    submitter = Caller("alice", frozenset({Scope.SUBMIT}))
    assert submitter.may(Scope.SUBMIT)
    assert not submitter.may(Scope.APPROVE)
    assert not submitter.may(Scope.ADMIN)


def test_requiring_a_missing_scope_names_the_scope_and_the_caller() -> None:
    with pytest.raises(MissingScope, match=r"'alice' lacks the 'approve' scope") as raised:
        Caller("alice", frozenset({Scope.SUBMIT})).require(Scope.APPROVE)
    assert raised.value.scope is Scope.APPROVE


def test_an_unknown_scope_is_an_error_naming_the_entry_but_not_the_key() -> None:
    with pytest.raises(ApiKeyFormatError, match=r"entry 2 .*unknown scope 'deploy'") as raised:
        ApiKeys.parse("k1=alice:submit,very-secret-key=bob:deploy")
    assert "very-secret-key" not in str(raised.value)


@pytest.mark.parametrize("entry", ["very-secret-key", "=alice:submit", "very-secret-key=:admin"])
def test_a_malformed_entry_is_an_error_that_never_contains_the_key(entry: str) -> None:
    with pytest.raises(ApiKeyFormatError, match="entry 1") as raised:
        ApiKeys.parse(entry)
    assert "very-secret-key" not in str(raised.value)


def test_a_key_given_twice_is_an_error() -> None:
    with pytest.raises(ApiKeyFormatError, match=r"entry 2 .*repeats"):
        ApiKeys.parse("k1=alice:submit,k1=bob:admin")


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(AuthenticationFailed, match="unknown API key"):
        ApiKeys.parse("k1=alice:submit").authenticate("k2")


@pytest.mark.parametrize("presented", [None, ""])
def test_a_missing_key_is_refused_with_where_to_send_one(presented: str | None) -> None:
    with pytest.raises(AuthenticationFailed, match="X-API-Key or as Authorization: Bearer"):
        ApiKeys.parse("k1=alice:submit").authenticate(presented)


def test_the_development_key_is_refused_by_default_even_when_configured() -> None:
    keys = ApiKeys.parse(DEV_API_KEY_ENTRY)
    assert len(keys) == 0
    with pytest.raises(AuthenticationFailed, match="ARCHITECT_GATEWAY_ALLOW_DEV_KEY=1"):
        keys.authenticate(DEV_API_KEY)


def test_the_development_key_is_accepted_as_admin_when_allowed() -> None:
    caller = ApiKeys.parse(DEV_API_KEY_ENTRY, allow_dev_key=True).authenticate(DEV_API_KEY)
    assert caller.may(Scope.ADMIN)


def test_the_default_settings_configure_only_the_refused_development_key() -> None:
    defaults = GatewaySettings.model_construct()
    assert defaults.api_keys.get_secret_value() == DEV_API_KEY_ENTRY
    assert defaults.allow_dev_key is False


def test_neither_the_keys_nor_the_settings_reveal_a_key_when_printed() -> None:
    spec = "very-secret-key=alice:admin"
    assert "very-secret-key" not in repr(ApiKeys.parse(spec))
    assert "very-secret-key" not in repr(GatewaySettings.model_construct(api_keys=SecretStr(spec)))


def test_the_x_api_key_header_wins_over_a_bearer_token() -> None:
    assert presented_key("from-header", "from-bearer") == "from-header"


def test_a_bearer_token_is_used_when_there_is_no_x_api_key() -> None:
    assert presented_key(None, " from-bearer ") == "from-bearer"
    assert presented_key("  ", "from-bearer") == "from-bearer"


def test_blank_credentials_are_no_key() -> None:
    assert presented_key(" ", None) is None


# Keys may hold '=' (base64), never ',' or surrounding spaces; names never ':', '=' or ','.
key_text = st.text(st.characters(categories=("L", "N"), include_characters="-_.=/+"), min_size=1, max_size=40)
name_text = st.text(st.characters(categories=("L", "N"), include_characters="-_. @"), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        key_text,
        st.tuples(name_text.map(str.strip).filter(bool), st.frozensets(st.sampled_from(list(Scope)))),
        min_size=1,
        max_size=5,
    )
)
def test_every_configured_key_authenticates_as_its_entry(entries: dict[str, tuple[str, frozenset[Scope]]]) -> None:
    spec = ",".join(f"{key}={name}:{'+'.join(sorted(scopes))}" for key, (name, scopes) in entries.items())
    keys = ApiKeys.parse(spec, allow_dev_key=True)
    for key, (name, scopes) in entries.items():
        assert keys.authenticate(key) == Caller(name, scopes)
