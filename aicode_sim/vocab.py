"""Word lists the generators draw from, and the commit-message composer.

Messages deliberately contain commas, double quotes, newlines and non-ASCII text in a good
share of records, because those are what break naive CSV and JSON handling.
"""

from __future__ import annotations

from collections.abc import Callable

# fmt: off
FIRST_NAMES = (
    "Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Gabriel", "Hana", "Ivan", "Jorge",
    "José", "Karin", "Léa", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven",
    "Søren", "Tomás", "Uma", "Valentina", "Wei", "Ximena", "Yusuf", "Zoë", "Björn", "Łukasz",
    "Aiko", "Chloé", "Dmitri", "Elif", "Farid", "Grace", "Hiro", "Inés", "Jonas", "Kofi",
)
LAST_NAMES = (
    "Silva", "Müller", "Nguyen", "García", "Smith", "Kowalski", "Rossi", "Tanaka", "Okafor",
    "Jensen", "Dubois", "Ivanova", "Haddad", "Lindqvist", "Santos", "Novák", "Yılmaz", "Park",
    "O'Brien", "Fernández", "Zhang", "Costa", "Schmidt", "Andersen", "Moreau", "Petrov",
    "Kim", "Nakamura", "Abebe", "Ortiz",
)

REPO_ORGS = ("acme", "acme", "platform", "data-eng")
REPO_NAMES = (
    "payments-api", "web-frontend", "mobile-app", "infra", "billing-service", "auth-gateway",
    "search", "notifications", "design-system", "analytics-pipeline", "docs", "cli-tools",
    "ml-models", "inventory", "checkout", "admin-console", "sdk-python", "sdk-go",
    "observability", "data-warehouse", "feature-flags", "email-templates",
)

FEATURE_BRANCHES = (
    "feature/login-retry", "feature/csv-export", "fix/null-payload", "feat/dark-mode",
    "chore/deps-bump", "feature/é-accents", "refactor/split-client", "spike/new-cache",
)

# (extension with leading dot, directory, base names); "" is a file with no extension.
SOURCE_FILES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (".go", "internal/server", ("main.go", "handler.go", "utils.go", "store.go")),
    (".ts", "src/analytics", ("report.ts", "client.ts", "index.ts", "types.ts")),
    (".tsx", "src/ui", ("App.tsx", "Chart.tsx", "Table.tsx")),
    (".py", "app/services", ("models.py", "views.py", "tasks.py", "__init__.py")),
    (".java", "src/main/java/com/acme", ("Service.java", "Controller.java")),
    (".kt", "app/src/main/kotlin", ("MainActivity.kt", "Repo.kt")),
    (".rs", "crates/core/src", ("lib.rs", "parser.rs")),
    (".js", "web/static", ("app.js", "legacy.js")),
    (".css", "web/static/css", ("site.css",)),
    (".sql", "migrations", ("0042_add_index.sql", "0043_backfill.sql")),
    (".yaml", "deploy", ("values.yaml", "ci.yaml")),
    (".md", "docs", ("README.md", "CHANGELOG.md", "guide.md")),
    ("", "", ("Dockerfile", "Makefile")),
)

_TYPES = ("feat", "fix", "refactor", "chore", "docs", "test", "perf", "build")
_SCOPES = ("api", "ui", "auth", "billing", "deps", "ci", "search", "export", "")
_SUBJECTS = (
    "add user login",
    "extract analytics client",
    "handle empty pages",
    "retry on 503",
    "speed up CSV export",
    "drop unused flag",
    "update onboarding guide",
    "validate webhook signature",
    "cache member ranking",
    "fix flaky test",
)
_COMMA_TAILS = (", part 2", ", again", ", with tests", ", closes #412", ", take two")
_QUOTED = ('handle "null" payloads', 'rename "userName" column', 'support "7d" ranges')
_UNICODE = (
    "corrige l'accès élève", "修复登录问题", "Übersicht für Kunden", "naïve café résumé",
    "🚀 release prep", "ajusta validação de e-mail", "исправить экспорт",
)
# fmt: on
_BODIES = (
    "Moves the HTTP client into its own module.\nNo behaviour change.",
    "Co-authored-by: Zoë Jensen <zoe.jensen@example.com>",
    '* first step\n* second step, with a comma\n* "quoted" third',
    "Closes #1234\r\nReviewed-by: Ana",
)


def compose_message(rand: Callable[[], float]) -> str:
    """A commit message; about 5% empty, many with commas, quotes, newlines, non-ASCII."""
    roll = rand()
    if roll < 0.05:
        return ""
    if roll < 0.12:
        return f'Merge branch "{_pick(rand, FEATURE_BRANCHES)}" into main'
    scope = _pick(rand, _SCOPES)
    head = f"{_pick(rand, _TYPES)}({scope}): " if scope else f"{_pick(rand, _TYPES)}: "
    if rand() < 0.2:
        subject = _pick(rand, _QUOTED)
    elif rand() < 0.2:
        subject = _pick(rand, _UNICODE)
    else:
        subject = _pick(rand, _SUBJECTS)
    if rand() < 0.3:
        subject += _pick(rand, _COMMA_TAILS)
    message = head + subject
    if rand() < 0.2:
        message += "\n\n" + _pick(rand, _BODIES)
    return message


def _pick(rand: Callable[[], float], options: tuple[str, ...]) -> str:
    return options[int(rand() * len(options))]
