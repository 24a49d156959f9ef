"""Village accounts' pages (积分换项目): a region scoring its villages every month, the
month's standings and notice, and the year's award of project funds. Pages composing
schemes, regions, points and rankings: above them, which never import it."""
