"""python manage.py import_message_usage FILE.csv [--dry-run] [--actor USERNAME]

Records usage for accounts without a connected Messaging API channel: rows `account,date,kind,count` (see
usage/imports.py). Every row is checked first; one wrong row and nothing is written.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from usage.imports import ImportRefused, figures_import, read_figures


class Command(BaseCommand):
    help = "Import message usage from a CSV file (account,date,kind,count); all rows or none."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check the file; write nothing.")
        parser.add_argument("--actor", help="The staff member the audit trail names (a username).")

    def handle(self, *args, file, dry_run, actor, **options):
        user = None
        if actor:
            user = get_user_model().objects.filter(username=actor).first()
            if user is None:
                raise CommandError(f"no user {actor!r}")
        try:
            with open(file, encoding="utf-8-sig", newline="") as stream:
                figures = read_figures(stream)
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {file}: {error}") from None
        except ImportRefused as refused:
            raise CommandError("nothing was imported:\n" + "\n".join(refused.problems[:50])) from None
        if dry_run:
            self.stdout.write(f"{len(figures)} rows are right; nothing written (dry run).")
            return
        changed = figures_import(figures, actor=user)
        self.stdout.write(f"{len(figures)} rows read, {changed} figures recorded or changed.")
