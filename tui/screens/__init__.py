"""The TUI's screens: findings (the main one), detail, compare, rules, stats, help, prompts."""
