"""Account pages: plain forms that POST and redirect, so they work without JavaScript."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grassroots.accounts.forms import (
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    SignupForm,
    TokenCreateForm,
    show_service_error,
)
from grassroots.accounts.models import User
from grassroots.accounts.selectors import api_tokens_for
from grassroots.accounts.services import (
    api_token_create,
    api_token_revoke,
    client_ip,
    user_login,
    user_logout,
    user_password_change,
    user_password_reset_record,
    user_profile_update,
    user_session_start,
    user_signup,
)
from grassroots.attribution.services import binding_on_signup
from grassroots.core.errors import NotFound, RateLimited, ServiceError
from grassroots.core.ratelimit import rate_limit_hit

PASSWORD_RESETS_PER_IP_PER_HOUR = 5


def _me(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by login_required
    return user


def _safe_next(request: HttpRequest) -> str:
    """The ?next= target if it stays on this site, else the home page."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


def _form_page(
    request: HttpRequest, template: str, context: dict[str, Any], form: Form, exc: ServiceError | None = None
) -> HttpResponse:
    if exc is not None:
        show_service_error(form, exc)
    response = render(request, template, {**context, "form": form})
    if isinstance(exc, RateLimited):
        response.status_code = exc.status
        response["Retry-After"] = str(exc.retry_after)
    return response


def signup(request: HttpRequest) -> HttpResponse:
    context = {"next": _safe_next(request)}
    if request.method != "POST":
        form = SignupForm(initial={"invite_code": request.GET.get("invite", "")[:32]})
        return _form_page(request, "accounts/signup.html", context, form)
    form = SignupForm(request.POST)
    if not form.is_valid():
        return _form_page(request, "accounts/signup.html", context, form)
    try:
        user = user_signup(**form.cleaned_data, ip_address=client_ip(request))
    except ServiceError as exc:
        return _form_page(request, "accounts/signup.html", context, form, exc)
    # A visitor who arrived through a shopkeeper's link may stay bound to that shop (if enabled).
    binding_on_signup(user=user, visitor_key=request.COOKIES.get("gr_vid"))
    user_session_start(request=request, user=user)
    messages.success(request, _("Welcome to Grassroots, %(name)s.") % {"name": user.display_name})
    return redirect(context["next"])


def login(request: HttpRequest) -> HttpResponse:
    context = {"next": _safe_next(request)}
    if request.method != "POST":
        return _form_page(request, "accounts/login.html", context, LoginForm())
    form = LoginForm(request.POST)
    if not form.is_valid():
        return _form_page(request, "accounts/login.html", context, form)
    try:
        user_login(request=request, email=form.cleaned_data["email"], password=form.cleaned_data["password"])
    except ServiceError as exc:
        return _form_page(request, "accounts/login.html", context, form, exc)
    return redirect(context["next"])


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    user_logout(request=request)
    return redirect("/")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    invite_url = request.build_absolute_uri(f"{reverse('accounts:signup')}?invite={user.invite_code}")
    context = {"invite_url": invite_url if user.invite_code else ""}
    if request.method != "POST":
        form = ProfileForm(initial={"display_name": user.display_name, "bio": user.bio})
        return _form_page(request, "accounts/profile.html", context, form)
    form = ProfileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, "accounts/profile.html", context, form)
    try:
        user_profile_update(
            user=user,
            display_name=form.cleaned_data["display_name"],
            bio=form.cleaned_data["bio"],
            avatar=form.cleaned_data["avatar"],
        )
    except ServiceError as exc:
        return _form_page(request, "accounts/profile.html", context, form, exc)
    messages.success(request, _("Your profile is saved."))
    return redirect("accounts:profile")


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    user = _me(request)
    context: dict[str, Any] = {"tokens": api_tokens_for(user=user), "new_token": None}
    if request.method != "POST":
        return _form_page(request, "accounts/tokens.html", context, TokenCreateForm())
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _form_page(request, "accounts/tokens.html", context, form)
    try:
        token, plaintext = api_token_create(user=user, name=form.cleaned_data["name"], ip_address=client_ip(request))
    except ServiceError as exc:
        return _form_page(request, "accounts/tokens.html", context, form, exc)
    # Rendered, not redirected: the plaintext must not be stored anywhere, not even in the session.
    context.update(new_token=plaintext, new_token_name=token.name)
    return _form_page(request, "accounts/tokens.html", context, TokenCreateForm())


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        api_token_revoke(user=_me(request), token_id=token_id, ip_address=client_ip(request))
    except NotFound:
        raise Http404 from None
    messages.success(request, _("The token is revoked."))
    return redirect("accounts:tokens")


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, "accounts/password_change.html", {}, PasswordChangeForm())
    form = PasswordChangeForm(request.POST)
    if not form.is_valid():
        return _form_page(request, "accounts/password_change.html", {}, form)
    try:
        user_password_change(
            user=_me(request),
            old_password=form.cleaned_data["old_password"],
            new_password=form.cleaned_data["new_password"],
            request=request,
        )
    except ServiceError as exc:
        return _form_page(request, "accounts/password_change.html", {}, form, exc)
    messages.success(request, _("Your password is changed. Other devices are signed out."))
    return redirect("accounts:profile")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset_email.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        # Each request may send an email: bound per address so the form cannot be used to spam.
        try:
            rate_limit_hit(
                scope="password_reset",
                key=client_ip(self.request) or "unknown",
                limit=PASSWORD_RESETS_PER_IP_PER_HOUR,
                window_seconds=3600,
            )
        except RateLimited as exc:
            return _form_page(self.request, self.template_name, {}, form, exc)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        assert isinstance(form.user, User)
        user_password_reset_record(user=form.user, ip_address=client_ip(self.request))
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
