"""Who is using the dashboard: OIDC (st.login) when configured, else a local analyst
password, else an explicit "local mode" where the one user is an analyst.

This only decides which buttons to show; ``core`` use cases check the role again.
"""

from __future__ import annotations

import streamlit as st

from core.auth import LOCAL_ANALYST, Actor, verify_password
from core.settings import Settings
from dashboard import keys

_SIGNED_IN = "auth_signed_in_analyst"


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError):
        return False
    except Exception:  # malformed secrets.toml: treat as not configured, say so in the sidebar
        return False


def current_actor(settings: Settings) -> Actor:
    if _oidc_configured():
        if not st.user.is_logged_in:
            return Actor(name="guest", role="viewer")
        email = str(st.user.get("email", "") or "").lower()
        role = "analyst" if email in settings.analyst_emails else "viewer"
        return Actor(name=email or "signed-in user", role=role)
    if settings.analyst_password_hash:
        if st.session_state.get(_SIGNED_IN):
            return Actor(name="analyst", role="analyst")
        return Actor(name="viewer", role="viewer")
    return LOCAL_ANALYST


def sidebar_account(settings: Settings, actor: Actor) -> None:
    """The sign-in box at the bottom of the sidebar."""
    with st.sidebar:
        st.divider()
        if _oidc_configured():
            if st.user.is_logged_in:
                st.caption(f"Signed in as **{actor.name}** ({actor.role})")
                if st.button("Sign out", key=keys.AUTH_SIGN_OUT):
                    st.logout()
            else:
                st.caption("Viewing as a guest (read-only)")
                if st.button("Sign in", key=keys.AUTH_SIGN_IN):
                    st.login()
            return
        if settings.analyst_password_hash:
            if actor.is_analyst:
                st.caption(":material/verified_user: Signed in as **analyst**")
                if st.button("Sign out", key=keys.AUTH_SIGN_OUT):
                    st.session_state[_SIGNED_IN] = False
                    st.rerun()
                return
            st.caption(":material/visibility: Viewer mode (read-only)")
            with st.form("auth_form", clear_on_submit=True, border=False):
                password = st.text_input(
                    "Analyst password", type="password", key=keys.AUTH_PASSWORD
                )
                if st.form_submit_button("Sign in as analyst"):
                    if verify_password(password, settings.analyst_password_hash):
                        st.session_state[_SIGNED_IN] = True
                        st.rerun()
                    else:
                        st.error("Wrong password.")
            return
        st.caption(
            ":material/home: **Local mode** — no sign-in configured; you are the analyst. "
            "Set ANALYST_PASSWORD_HASH or [auth] in secrets to add viewers."
        )
