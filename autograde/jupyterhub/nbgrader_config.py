# nbgrader settings for the students' and the instructor's servers on JupyterHub (mounted at
# /etc/jupyter/nbgrader_config.py by values.yaml). Autograding itself runs on Dask workers
# (graders.yaml, or grading machines; see autograde/README.md), sent by `bash course.sh grade autograde`.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "cnn-vis"
c.Exchange.root = "/srv/nbgrader/exchange"        # shared ReadWriteMany volume, mode 0777 + sticky bit
c.Exchange.path_includes_course = True
c.Exchange.timezone = "Europe/Berlin"
c.Exchange.assignment_dir = "."                   # students' server: fetched assignments land in ~/<assignment>
# Large classes: keep the exchange listing fast and the uploads bounded
c.CourseDirectory.max_file_size = 100000          # kB per file
c.ExchangeFetchAssignment.replace_missing_files = True
# The instructor's server (the formgrader) reads the same PostgreSQL gradebook as the graders:
c.CourseDirectory.db_url = "postgresql+psycopg2://nbgrader@cnnvis-db:5432/cnnvis"
