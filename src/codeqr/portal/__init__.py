"""The partner portal: where a program's partners see their own links and earnings."""
