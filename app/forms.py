"""What every page form shares."""

from flask_wtf import FlaskForm

from app.errors import ValidationFailed


def show_errors(form: FlaskForm, exc: ValidationFailed, rename: dict | None = None) -> None:
    """Attach each message of ``exc.details`` beside its field (``rename`` maps service →
    form names); messages about fields the form does not have go to the top of the form."""
    for name, messages in exc.details.items():
        name = (rename or {}).get(name, name)
        messages = messages if isinstance(messages, list) else [str(messages)]
        target = form._fields.get(name)
        if target is not None:
            target.errors = [*target.errors, *map(str, messages)]
        else:
            form.form_errors.extend(map(str, messages))
