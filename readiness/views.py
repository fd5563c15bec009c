"""Sign-in, sign-out, own password and language.

The home page (``main.home``) belongs to the overview package, which adds it to this
blueprint's endpoints (see ``overview.init_app``).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from readiness import params, services, throttle
from readiness.auth import PUBLIC, current_actor, permission, safe_next
from readiness.errors import DomainError
from readiness.extensions import db
from readiness.forms import ChangePasswordForm, ConfirmForm, LoginForm
from readiness.models import LANGUAGES

main = Blueprint("main", __name__)
auth = Blueprint("auth", __name__)


@main.route("/language", methods=["POST"])
@permission(PUBLIC)
def language():
    """Switch the interface language for this browser (and the user, if signed in)."""
    lang = request.form.get("lang", "")
    if lang not in LANGUAGES:
        flash(_("不支持的语言。"), "error")
    else:
        session["lang"] = lang
        actor = current_actor()
        if actor is not None:
            services.set_language(db.session, actor, lang)
            db.session.commit()
    return redirect(safe_next(request.form.get("next")) or url_for("main.home"))


@auth.route("/login", methods=["GET", "POST"])
@permission(PUBLIC)
def login():
    """Sign in with username and password."""
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                db.session,
                form.username.data,
                form.password.data,
                address=request.remote_addr,
                policy=throttle.Policy.from_config(current_app.config),
            )
        except DomainError as err:
            db.session.commit()  # keep the failure counts and the audit entries
            form.password.errors.append(err.message)
        else:
            db.session.commit()
            login_user(user, remember=form.remember.data)
            return redirect(next_url or url_for("main.home"))
    return render_template("readiness/login.html", form=form, next_url=next_url)


@auth.route("/logout", methods=["POST"])
@permission(PUBLIC)
def logout():
    """Sign out: this user's sessions and remember-me cookies end on every device."""
    actor = current_actor()
    if actor is not None:
        services.sign_out(db.session, actor)
        db.session.commit()
    logout_user()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("auth.login"))


@auth.route("/account/password", methods=["GET", "POST"])
@permission("account.own")
def change_password():
    """Change one's own password; other devices are signed out.

    Someone whose password an administrator chose is sent here first (see readiness.auth)
    and goes on to the page they asked for afterwards.
    """
    form = ChangePasswordForm()
    actor = current_actor()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            services.change_own_password(
                db.session, actor, form.current_password.data, form.new_password.data
            )
        except DomainError as err:
            db.session.rollback()
            getattr(form, err.field or "new_password").errors.append(err.message)
        else:
            db.session.commit()
            login_user(actor)  # refresh this session's id after the version bump
            flash(_("密码已修改，其他设备上的登录已失效。"), "success")
            return redirect(next_url or url_for("main.home"))
    return render_template(
        "readiness/password.html",
        form=form,
        next_url=next_url,
        forced=actor.must_change_password,
    )


@auth.route("/account/tokens", methods=["GET", "POST"])
@permission("account.own")
def tokens():
    """One's own API tokens: create one (shown once) or revoke one."""
    actor = current_actor()
    form = ConfirmForm()
    token = None
    if form.validate_on_submit():
        revoke = params.form_int("revoke")  # a bad id is a 400, not a flash
        try:
            if revoke is not None:
                count = services.revoke_tokens(db.session, actor, actor=actor, token_id=revoke)
            else:
                token = services.issue_token(db.session, actor, actor=actor)
        except DomainError as err:
            db.session.rollback()
            flash(err.message, "error")
        else:
            db.session.commit()
            if revoke is not None:
                flash(_("已吊销 {n} 个令牌。").format(n=count), "success")
                return redirect(url_for("auth.tokens"))
    rows = sorted(actor.tokens, key=lambda t: t.created_at, reverse=True)
    return render_template("readiness/tokens.html", form=form, token=token, tokens=rows)
