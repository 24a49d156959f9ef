"""Pages that compose several domains (the dashboard, a household's page, the
statistics, a household's registration): above households, points, rankings and
redemption, which never import it."""
